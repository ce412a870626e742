"""One module per LSP feature, each with a ``register(server)`` that adds its handlers."""
