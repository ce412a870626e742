/**
 * Everything helper B's part of the extension contributes, registered in one call from
 * `activate`: the palette commands (Run Command, Do, Run Pipeline, Search the Audit Trail,
 * Show Pending Approvals), the Approvals and Recent Activity views with their commands, and
 * the read-only `logomesh-result:` documents. Every action goes through
 * `LogoMeshClient.execute`: the server authorises, confirms and audits it.
 */
import * as vscode from "vscode";

import type { LogoMeshClient } from "./api";
import { parseRecord, type AuditRecord } from "./auditRecords";
import { ResultDocuments, SCHEME } from "./details";
import { ask } from "./palette/ask";
import { runCommand } from "./palette/runCommand";
import { Runner } from "./palette/runner";
import { runPipeline } from "./palette/runPipeline";
import { openRecord, searchAudit } from "./palette/searchAudit";
import type { Ticket } from "./tickets";
import { ACTIVITY_VIEW, ActivityView } from "./views/activity";
import { APPROVALS_VIEW, ApprovalsView } from "./views/approvals";

export function registerFeatures(context: vscode.ExtensionContext, client: LogoMeshClient): void {
  const documents = new ResultDocuments();
  const runner = new Runner(client, documents);
  const approvals = new ApprovalsView(runner);
  const activity = new ActivityView(runner);
  const approvalsTree = vscode.window.createTreeView(APPROVALS_VIEW, {
    treeDataProvider: approvals,
  });
  const activityTree = vscode.window.createTreeView(ACTIVITY_VIEW, { treeDataProvider: activity });
  approvals.attach(approvalsTree);
  activity.attach(activityTree);

  const command = (id: string, run: (...args: unknown[]) => unknown): vscode.Disposable =>
    vscode.commands.registerCommand(id, run);
  context.subscriptions.push(
    documents,
    runner,
    approvals,
    activity,
    approvalsTree,
    activityTree,
    vscode.workspace.registerTextDocumentContentProvider(SCHEME, documents),
    command("logomesh.runCommand", () => runCommand(runner)),
    command("logomesh.ask", () => ask(runner)),
    command("logomesh.runPipeline", () => runPipeline(runner)),
    command("logomesh.searchAudit", () => searchAudit(runner)),
    command("logomesh.showApprovals", () =>
      vscode.commands.executeCommand(`${APPROVALS_VIEW}.focus`),
    ),
    command("logomesh.approveTicket", (ticket) => approvals.approve(asTicket(ticket))),
    command("logomesh.declineTicket", (ticket) => approvals.decline(asTicket(ticket))),
    command("logomesh.refreshApprovals", () => approvals.refresh()),
    command("logomesh.refreshActivity", () => activity.refresh()),
    command("logomesh.openRecord", (record) => openRecordOrSearch(runner, record)),
  );
}

/** The inline buttons pass the tree element (a Ticket); anything else asks which. */
function asTicket(value: unknown): Ticket | undefined {
  return typeof value === "object" && value !== null && typeof (value as Ticket).id === "string"
    ? (value as Ticket)
    : undefined;
}

async function openRecordOrSearch(runner: Runner, value: unknown): Promise<void> {
  const record: AuditRecord | undefined = parseRecord(value);
  await (record === undefined ? searchAudit(runner) : openRecord(runner, record));
}
