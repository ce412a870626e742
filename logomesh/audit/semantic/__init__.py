"""Semantic audit search: record texts, the embedding worker, the vector index, the search.

``text`` says what a record reads as to the model, ``worker`` embeds records that have no
vector yet, ``index`` holds the vectors in memory and ranks them under filters, ``hnsw``
ranks in PostgreSQL instead when the table is a pgvector column, ``search`` puts them
together for the ``audit.search`` command. NumPy and the model load only when
a search or a drain first needs them.
"""
