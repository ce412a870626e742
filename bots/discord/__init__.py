"""The Discord bot (discord.py): only what is Discord's own; the rest is ``bots.chat``."""
