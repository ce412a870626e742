"""Every command the engine registers by itself."""

from __future__ import annotations

from logomesh.commands import audit_commands, db_commands, engine_commands, trust_commands
from logomesh.commands.models import CommandSpec
from logomesh.devshell.commands import DEVSHELL_COMMANDS
from logomesh.llm.commands import LLM_COMMANDS
from logomesh.nl import flow
from logomesh.plugins.commands import PLUGIN_COMMANDS

BUILTIN_COMMANDS: tuple[CommandSpec, ...] = (
    engine_commands.status,
    engine_commands.whoami,
    engine_commands.commands_list,
    engine_commands.config_show,
    engine_commands.workspace_init,
    trust_commands.workspace_trust,
    audit_commands.audit_query,
    audit_commands.audit_search,
    audit_commands.audit_verify,
    audit_commands.audit_checkpoint,
    audit_commands.audit_export,
    audit_commands.audit_prune,
    db_commands.db_status,
    db_commands.db_upgrade,
    db_commands.db_downgrade,
    db_commands.db_backup,
    db_commands.db_restore,
    flow.nl_interpret,
    *DEVSHELL_COMMANDS,
    *LLM_COMMANDS,
    *PLUGIN_COMMANDS,
)
