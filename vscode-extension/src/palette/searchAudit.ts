/**
 * LogoMesh: Search the Audit Trail... — words to `audit.search` (by meaning, best match
 * first), the records in a quick pick showing action, outcome, actor and time. Picking one
 * opens its details; its buttons open the file it names or run its command again (starting
 * from its arguments, redacted ones left to type).
 */
import * as vscode from "vscode";

import {
  namedCommand,
  namedFile,
  parseRecords,
  searchItemFields,
  startValues,
  type AuditRecord,
} from "../auditRecords";
import { isCommandResult } from "../results";
import { activeFolder, type Runner } from "./runner";
import { listCommands, runCommand } from "./runCommand";

/** How many records to ask for (SearchArgs allows 1 to 100). */
const LIMIT = 50;

const OPEN_FILE: vscode.QuickInputButton = {
  iconPath: new vscode.ThemeIcon("go-to-file"),
  tooltip: "Open the file this record names",
};
const RUN_AGAIN: vscode.QuickInputButton = {
  iconPath: new vscode.ThemeIcon("debug-rerun"),
  tooltip: "Run this command again",
};

interface RecordItem extends vscode.QuickPickItem {
  record: AuditRecord;
}

export async function searchAudit(runner: Runner): Promise<void> {
  const query = await vscode.window.showInputBox({
    title: "LogoMesh: Search the Audit Trail",
    prompt: "What to look for, in your own words (by meaning, not exact text)",
    placeHolder: "who pushed to main",
    ignoreFocusOut: true,
    validateInput: (value) =>
      value.length > 0 && value.trim() === "" ? "Type what to look for." : undefined,
  });
  if (query === undefined || query.trim() === "") {
    return;
  }
  const folder = activeFolder();
  const [answer, commands] = await Promise.all([
    runner.list("logomesh.audit.search", { query: query.trim(), limit: LIMIT }, folder),
    listCommands(runner, folder),
  ]);
  if (!isCommandResult(answer)) {
    return;
  }
  const records = parseRecords(answer.data);
  if (records.length === 0) {
    runner.problem(`LogoMesh: no audit record matches "${query.trim()}".`);
    return;
  }
  const runnable = new Set((commands ?? []).map((command) => command.name));
  await pickRecord(runner, records, runnable, folder, query.trim());
}

function recordItem(record: AuditRecord, runnable: ReadonlySet<string>, now: Date): RecordItem {
  const buttons: vscode.QuickInputButton[] = [];
  if (namedFile(record) !== undefined) {
    buttons.push(OPEN_FILE);
  }
  if (namedCommand(record, runnable) !== undefined) {
    buttons.push(RUN_AGAIN);
  }
  return { ...searchItemFields(record, now), buttons, record };
}

async function pickRecord(
  runner: Runner,
  records: AuditRecord[],
  runnable: ReadonlySet<string>,
  folder: vscode.WorkspaceFolder | undefined,
  query: string,
): Promise<void> {
  const now = new Date();
  const pick = vscode.window.createQuickPick<RecordItem>();
  pick.title = `LogoMesh: audit records for "${query}" (best match first)`;
  pick.placeholder =
    "Pick a record to see it whole; the buttons open its file or run its command again";
  pick.matchOnDescription = true;
  pick.matchOnDetail = true;
  pick.items = records.map((record) => recordItem(record, runnable, now));
  const done = new Promise<void>((resolve) => {
    pick.onDidTriggerItemButton(({ item, button }) => {
      pick.hide();
      void (button === OPEN_FILE
        ? openFile(runner, item.record, folder)
        : runAgain(runner, item.record));
    });
    pick.onDidAccept(() => {
      const item = pick.selectedItems[0];
      pick.hide();
      if (item !== undefined) {
        void openRecord(runner, item.record);
      }
    });
    pick.onDidHide(() => {
      pick.dispose();
      resolve();
    });
  });
  pick.show();
  await done;
}

/** The whole record as the server sent it, in a read-only JSON document
 * (`logomesh.openRecord`). */
export async function openRecord(runner: Runner, record: AuditRecord): Promise<void> {
  const title = `audit ${record.seq ?? record.id} ${record.action}.json`;
  await runner.documents.open({
    title,
    language: "json",
    text: JSON.stringify(record.raw, null, 2) + "\n",
  });
}

export async function openFile(
  runner: Runner,
  record: AuditRecord,
  folder = activeFolder(),
): Promise<void> {
  const path = namedFile(record);
  if (path === undefined) {
    return;
  }
  const uri = path.startsWith("/")
    ? vscode.Uri.file(path)
    : folder === undefined
      ? undefined
      : vscode.Uri.joinPath(folder.uri, path);
  if (uri === undefined) {
    runner.problem(`LogoMesh: ${path} is relative to a workspace folder, and none is open.`);
    return;
  }
  try {
    await vscode.window.showTextDocument(uri);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    runner.problem(
      `LogoMesh: cannot open ${path}, which the record of ${record.action} names (${reason}). It may have moved or been deleted since.`,
    );
  }
}

export async function runAgain(runner: Runner, record: AuditRecord): Promise<void> {
  await runCommand(runner, { command: record.action, start: startValues(record) });
}
