"""The chat adapters: a platform-neutral layer (``bots.chat``) and one package per platform
(``bots.slack``; Discord next) that only translates to and from its platform."""
