/**
 * LogoMesh: Run Command... — a quick pick of the commands this user may run here (the
 * server's `logomesh.commands`, already filtered by role and Workspace Trust), then one
 * step per argument from its schema, then the run.
 */
import * as vscode from "vscode";

import type { Risk, ServerCommand } from "../api";
import { showFailure } from "../results";
import { buildSteps } from "../schemaInputs";
import { activeFolder, notifySetting, type Runner } from "./runner";
import { askSteps } from "./steps";

const RISK_ICONS: Record<Risk, string> = { read: "$(eye)", write: "$(edit)", danger: "$(warning)" };

interface CommandItem extends vscode.QuickPickItem {
  command: ServerCommand;
}

/** The commands of the folder, or undefined (already shown) when they cannot be listed. */
export async function listCommands(
  runner: Runner,
  folder = activeFolder(),
): Promise<ServerCommand[] | undefined> {
  try {
    return await runner.client.commands(folder?.uri);
  } catch (error) {
    runner.present(showFailure(error, notifySetting(folder), "logomesh.commands"));
    return undefined;
  }
}

export interface Preset {
  /** The engine name, e.g. `git.log`. */
  command: string;
  /** Values to start the argument steps from (a past run's), instead of the defaults. */
  start?: Record<string, unknown>;
}

export async function runCommand(runner: Runner, preset?: Preset): Promise<void> {
  const folder = activeFolder();
  const chosen =
    preset === undefined
      ? await pickCommand(runner, folder)
      : await findCommand(runner, preset.command, folder);
  if (chosen === undefined) {
    return;
  }
  await runChosen(runner, chosen, preset?.start, folder);
}

/** Ask for `command`'s arguments and run it. */
export async function runChosen(
  runner: Runner,
  command: ServerCommand,
  start: Record<string, unknown> = {},
  folder = activeFolder(),
): Promise<void> {
  const args = await askSteps(buildSteps(command.name, command.schema, start));
  if (args !== undefined) {
    await runner.run(command.lsp_command, args, folder);
  }
}

async function pickCommand(
  runner: Runner,
  folder: vscode.WorkspaceFolder | undefined,
): Promise<ServerCommand | undefined> {
  const items = listCommands(runner, folder).then((commands) => (commands ?? []).map(commandItem));
  const picked = await vscode.window.showQuickPick(items, {
    title: "LogoMesh: Run Command",
    placeHolder: "The commands you may run here, each with its risk: read, write or danger",
    matchOnDescription: true,
    matchOnDetail: true,
  });
  return picked?.command;
}

async function findCommand(
  runner: Runner,
  name: string,
  folder: vscode.WorkspaceFolder | undefined,
): Promise<ServerCommand | undefined> {
  const commands = await listCommands(runner, folder);
  const found = commands?.find((command) => command.name === name);
  if (commands !== undefined && found === undefined) {
    runner.problem(
      `LogoMesh: ${name} is not among the commands you may run in this folder now (your role does not allow it, or Restricted Mode leaves it out until you trust the folder).`,
    );
  }
  return found;
}

function commandItem(command: ServerCommand): CommandItem {
  return {
    label: command.name,
    description: `${RISK_ICONS[command.risk] ?? ""} ${command.risk}`,
    detail: command.summary,
    command,
  };
}
