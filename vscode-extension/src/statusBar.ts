/**
 * The one status bar item: the server's state (starting, ready, error with the reason on
 * hover), the engine's mode, Restricted Mode, and how many approvals wait. Clicking it opens
 * the approvals when some wait, else the output.
 *
 * `describeStatus` is pure (test/statusBar.test.ts). The controller keeps the pending count:
 * one `logomesh.approvals.list` when an engine is ready, then the `logomesh/approvalsChanged`
 * notifications move tickets in and out. Listing on every change would write an audit
 * record each time and fill the person's Recent Activity with the status bar's own reads.
 * This module imports only vscode's types; extension.ts creates the item.
 */
import type * as vscode from "vscode";

import type { ApprovalChange, EngineInfo, LogoMeshClient, ServerState } from "./api";
import { pendingTicketIds } from "./protocol";

export interface StatusModel {
  readonly state: ServerState;
  /** The engine of the folder the status describes (the first folder's). */
  readonly engine: EngineInfo | undefined;
  /** Why that folder's engine could not be built, when it could not. */
  readonly engineFailure: string | undefined;
  readonly pending: number;
}

export interface StatusView {
  readonly text: string;
  readonly tooltip: string;
  readonly command: "logomesh.showApprovals" | "logomesh.showOutput";
}

export function describeStatus(model: StatusModel): StatusView {
  const { state } = model;
  const showOutput = "logomesh.showOutput" as const;
  switch (state.kind) {
    case "starting":
      return {
        text: "$(sync~spin) LogoMesh",
        tooltip: "LogoMesh: the server is starting; commands run as soon as it is ready.",
        command: showOutput,
      };
    case "stopped":
      return {
        text: "$(circle-slash) LogoMesh",
        tooltip: "LogoMesh: the server is stopped. Run LogoMesh: Restart Server to start it.",
        command: showOutput,
      };
    case "error":
      return {
        text: "$(error) LogoMesh",
        tooltip:
          `LogoMesh is not running: ${state.reason}\n` +
          "Click to see the output; LogoMesh: Restart Server tries again.",
        command: showOutput,
      };
    case "ready":
      return describeReady(model);
  }
}

function describeReady(model: StatusModel): StatusView {
  const { engine, engineFailure, pending } = model;
  const lines: string[] = [];
  let text: string;
  if (engineFailure !== undefined) {
    text = "$(warning) LogoMesh";
    lines.push(`LogoMesh: the server runs, but the workspace's engine failed: ${engineFailure}`);
  } else if (engine === undefined) {
    text = "$(check) LogoMesh";
    lines.push("LogoMesh: the server is ready.");
  } else {
    text = `$(check) LogoMesh: ${engine.mode}`;
    lines.push(`LogoMesh: ready, mode ${engine.mode}, as ${engine.user}.`);
    if (engine.restricted) {
      text += " $(shield) Restricted";
      lines.push(
        "Restricted Mode: the workspace's own code (its plugins, logomesh.toml commands and " +
          "models, tests.run) stays off until you trust the folder.",
      );
    }
  }
  if (pending > 0) {
    text += ` · ${pending} pending`;
    lines.push(`${pending} approval${pending === 1 ? "" : "s"} waiting: click to see them.`);
    return { text, tooltip: lines.join("\n"), command: "logomesh.showApprovals" };
  }
  lines.push("Click to see the output.");
  return { text, tooltip: lines.join("\n"), command: "logomesh.showOutput" };
}

/** Keeps the item in step with the client. */
export class StatusBarController implements vscode.Disposable {
  private readonly pending = new Set<string>();
  private engineFailure: string | undefined;
  /** Changes that arrive while a list is on its way are applied on top of it. */
  private changesDuringList: ApprovalChange[] | undefined;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly item: vscode.StatusBarItem,
    private readonly client: LogoMeshClient,
    /** The folder whose engine the item describes (the first workspace folder's URI). */
    private readonly primaryFolder: () => string | undefined,
  ) {
    this.subscriptions.push(
      client.onDidChangeState((state) => {
        if (state.kind !== "ready") this.pending.clear();
        this.render();
      }),
      client.onDidChangeEngine((engine) => {
        if (this.isPrimary(engine.folder)) this.engineFailure = undefined;
        void this.listPending();
      }),
      client.onDidFailEngine((failure) => {
        if (this.isPrimary(failure.folder)) this.engineFailure = failure.message;
        this.render();
      }),
      client.onDidChangeApprovals((change) => {
        this.changesDuringList?.push(change);
        this.apply(change);
        this.render();
      }),
    );
    this.render();
    item.show();
  }

  dispose(): void {
    for (const subscription of this.subscriptions) subscription.dispose();
    this.item.dispose();
  }

  private render(): void {
    const view = describeStatus({
      state: this.client.state,
      engine: this.engine(),
      engineFailure: this.engineFailure,
      pending: this.pending.size,
    });
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.command = view.command;
  }

  private engine(): EngineInfo | undefined {
    const primary = this.primaryFolder();
    const engines = [...this.client.engines.values()];
    return engines.find((engine) => engine.folder === primary) ?? engines.at(0);
  }

  private isPrimary(folder: string): boolean {
    const primary = this.primaryFolder();
    return primary === undefined || primary === folder;
  }

  private apply(change: ApprovalChange): void {
    if (change.state === "pending") this.pending.add(change.ticketId);
    else this.pending.delete(change.ticketId);
  }

  private async listPending(): Promise<void> {
    this.changesDuringList = [];
    try {
      const result = await this.client.execute("logomesh.approvals.list", {
        state: "pending",
        limit: 1000,
      });
      const ids = pendingTicketIds(result.data);
      if (ids === undefined) {
        this.client.output.warn("approvals.list returned no list; the pending count is unknown.");
        return;
      }
      this.pending.clear();
      for (const id of ids) this.pending.add(id);
      for (const change of this.changesDuringList) this.apply(change);
    } catch (error) {
      // A person who may not list approvals sees no count; the output says why.
      this.client.output.info(`The pending approvals could not be listed: ${String(error)}`);
    } finally {
      this.changesDuringList = undefined;
      this.render();
    }
  }
}
