/**
 * The Recent Activity view: your latest audit records in this folder (`audit.query` with
 * actor = you, newest first), refreshed after every command the extension runs, when a
 * ticket changes, and on Refresh. Clicking one opens the whole record. The extension's own listings (this view's
 * `audit.query`, the pending `approvals.list` of the Approvals view and the status bar) are
 * audited like any request, and left out here so that refreshing does not fill the list
 * with refreshes.
 */
import * as vscode from "vscode";

import { activityFields, isOwnListing, parseRecords, type AuditRecord } from "../auditRecords";
import { isCommandResult } from "../results";
import { activeFolder, type Runner } from "../palette/runner";
import { LIST_ARGS } from "./approvals";

export const ACTIVITY_VIEW = "logomesh.activity";
const LIMIT = 50;
/** Runs in a burst (a pipeline's listing, then the run) refresh once. */
const SETTLE_MS = 300;

export class ActivityView implements vscode.TreeDataProvider<AuditRecord>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [this.changed];
  private readonly users = new Map<string, string>();
  private view: vscode.TreeView<AuditRecord> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly runner: Runner) {
    const client = runner.client;
    this.disposables.push(
      runner.onDidRun(() => this.refreshSoon()),
      // A ticket asked for or decided (from any adapter) wrote records too.
      client.onDidChangeApprovals(() => this.refreshSoon()),
      client.onDidChangeEngine((engine) => {
        this.users.delete(engine.folder);
        this.refreshSoon();
      }),
      client.onDidChangeState((state) => state.kind === "ready" && this.refreshSoon()),
    );
  }

  attach(view: vscode.TreeView<AuditRecord>): void {
    this.view = view;
  }

  refresh(): void {
    this.changed.fire();
  }

  private refreshSoon(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), SETTLE_MS);
  }

  getTreeItem(record: AuditRecord): vscode.TreeItem {
    const fields = activityFields(record, new Date());
    const item = new vscode.TreeItem(fields.label, vscode.TreeItemCollapsibleState.None);
    item.id = record.id;
    item.description = fields.description;
    item.tooltip = fields.tooltip;
    item.iconPath = new vscode.ThemeIcon(fields.icon);
    item.command = {
      command: "logomesh.openRecord",
      title: "Open Audit Record",
      arguments: [record],
    };
    return item;
  }

  async getChildren(parent?: AuditRecord): Promise<AuditRecord[]> {
    if (parent !== undefined || this.runner.client.state.kind !== "ready") {
      this.message(
        this.runner.client.state.kind === "ready"
          ? undefined
          : "The LogoMesh server is not running yet.",
      );
      return [];
    }
    const folder = activeFolder();
    const user = await this.user(folder);
    if (user === undefined) {
      this.message(
        "Could not tell who you are to LogoMesh (logomesh.whoami failed): the LogoMesh output says why.",
      );
      return [];
    }
    const sent = { actor: user, limit: LIMIT };
    const answer = await this.runner.list("logomesh.audit.query", sent, folder);
    if (!isCommandResult(answer)) {
      this.message("Could not read the audit trail: the LogoMesh output says why.");
      return [];
    }
    this.message(undefined);
    return parseRecords(answer.data).filter(
      (record) =>
        !isOwnListing(record, "audit.query", sent) &&
        !isOwnListing(record, "approvals.list", LIST_ARGS),
    );
  }

  /** Your identity as records name their actor (`whoami`'s identity, which roles and the
   * user config may map from the OS user), asked once per folder and engine build. */
  private async user(folder: vscode.WorkspaceFolder | undefined): Promise<string | undefined> {
    const key = folder?.uri.toString() ?? "";
    const known = this.users.get(key);
    if (known !== undefined) {
      return known;
    }
    const answer = await this.runner.list("logomesh.whoami", {}, folder);
    const data: unknown = isCommandResult(answer) ? answer.data : undefined;
    const identity =
      typeof data === "object" && data !== null
        ? (data as Record<string, unknown>).identity
        : undefined;
    if (typeof identity !== "string") {
      return undefined;
    }
    this.users.set(key, identity);
    return identity;
  }

  private message(text: string | undefined): void {
    if (this.view !== undefined) {
      this.view.message = text;
    }
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const disposable of this.disposables) {
      disposable.dispose();
    }
  }
}
