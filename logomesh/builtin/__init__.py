"""The engine's own commands: its status, who is asking, the command list, the effective
settings, a new workspace (``engine_commands``) and the database's schema and backups
(``db_commands``). ``feature.FEATURE`` collects them like any feature's."""
