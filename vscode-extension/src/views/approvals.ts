/**
 * The Approvals view: the tickets waiting for a decision (`approvals.list`, state pending),
 * with Approve and Decline inline. It refreshes when the server reports a change
 * (`logomesh/approvalsChanged`), when the server or an engine (re)starts, and on Refresh.
 * Deciding runs `approvals.approve` / `approvals.decline` through the engine, which checks
 * the approver's permission and the two-person rule and records the decision.
 */
import * as vscode from "vscode";

import { isCommandResult } from "../results";
import { pendingTickets, ticketFields, type Ticket } from "../tickets";
import { activeFolder, type Runner } from "../palette/runner";

export const APPROVALS_VIEW = "logomesh.approvals";
/** What the view asks for; `approvals.list` allows up to 1000. */
export const LIST_ARGS = { state: "pending", limit: 100 } as const;

export class ApprovalsView implements vscode.TreeDataProvider<Ticket>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [this.changed];
  private view: vscode.TreeView<Ticket> | undefined;
  private tickets: Ticket[] = [];

  constructor(private readonly runner: Runner) {
    const client = runner.client;
    this.disposables.push(
      client.onDidChangeApprovals(() => this.refresh()),
      client.onDidChangeEngine(() => this.refresh()),
      client.onDidChangeState((state) => state.kind === "ready" && this.refresh()),
    );
  }

  attach(view: vscode.TreeView<Ticket>): void {
    this.view = view;
  }

  refresh(): void {
    this.changed.fire();
  }

  /** The tickets as last listed (for a decision picked without an item). */
  get pending(): readonly Ticket[] {
    return this.tickets;
  }

  getTreeItem(ticket: Ticket): vscode.TreeItem {
    const fields = ticketFields(ticket);
    const item = new vscode.TreeItem(fields.label, vscode.TreeItemCollapsibleState.None);
    item.id = ticket.id;
    item.description = fields.description;
    item.tooltip = fields.tooltip;
    item.contextValue = fields.contextValue;
    item.iconPath = new vscode.ThemeIcon(fields.icon);
    return item;
  }

  async getChildren(parent?: Ticket): Promise<Ticket[]> {
    if (parent !== undefined || this.runner.client.state.kind !== "ready") {
      this.show(
        [],
        this.runner.client.state.kind === "ready"
          ? undefined
          : "The LogoMesh server is not running yet.",
      );
      return [];
    }
    const answer = await this.runner.list(
      "logomesh.approvals.list",
      { ...LIST_ARGS },
      activeFolder(),
    );
    if (!isCommandResult(answer)) {
      this.show([], "Could not list the approvals: the LogoMesh output says why.");
      return [];
    }
    this.show(pendingTickets(answer.data));
    return this.tickets;
  }

  private show(tickets: Ticket[], message?: string): void {
    this.tickets = tickets;
    if (this.view === undefined) {
      return;
    }
    this.view.message = message;
    this.view.badge =
      tickets.length === 0
        ? undefined
        : { value: tickets.length, tooltip: `${tickets.length} approval(s) waiting` };
  }

  /** Approve `ticket` (the inline button), or one picked from the pending ones. */
  async approve(ticket?: Ticket): Promise<void> {
    const chosen = ticket ?? (await this.choose("Approve which request?"));
    if (chosen !== undefined) {
      await this.runner.run("logomesh.approvals.approve", { id: chosen.id });
      this.refresh();
    }
  }

  /** Decline, with an optional reason (the requester is told it). Escape keeps the ticket. */
  async decline(ticket?: Ticket): Promise<void> {
    const chosen = ticket ?? (await this.choose("Decline which request?"));
    if (chosen === undefined) {
      return;
    }
    const reason = await vscode.window.showInputBox({
      title: `Decline ${chosen.command} (ticket ${chosen.id.slice(0, 8)}…)`,
      prompt:
        "Why? Optional: the requester sees it. Empty declines without a reason; Escape keeps the ticket waiting.",
      ignoreFocusOut: true,
      validateInput: (value) =>
        [...value].length > 2000
          ? `A reason has at most 2000 characters; this has ${[...value].length}.`
          : undefined,
    });
    if (reason === undefined) {
      return;
    }
    const args: Record<string, unknown> = { id: chosen.id };
    if (reason.trim() !== "") {
      args.reason = reason.trim();
    }
    await this.runner.run("logomesh.approvals.decline", args);
    this.refresh();
  }

  private async choose(placeHolder: string): Promise<Ticket | undefined> {
    const tickets = this.tickets.length > 0 ? this.tickets : await this.getChildren();
    if (tickets.length === 0) {
      this.runner.problem("LogoMesh: no approval is waiting.");
      return undefined;
    }
    const items = tickets.map((ticket) => ({ ...ticketFields(ticket), detail: ticket.id, ticket }));
    return (await vscode.window.showQuickPick(items, { placeHolder }))?.ticket;
  }

  dispose(): void {
    for (const disposable of this.disposables) {
      disposable.dispose();
    }
  }
}
