"""The built-in DevShell commands, one module per tool family; ``devshell.feature`` collects
them from these modules.

Names are stable: the natural-language interpreter and people's scripts refer to them.
"""
