/**
 * Running one command for a palette command or a view: a cancellable progress notification
 * while it runs (cancelling cancels the request, and the server cancels the command), then
 * the answer shown as `results.ts` renders it, in the output channel always and as a
 * notification when `logomesh.showNotifications` allows. Every run tells the Recent
 * Activity view to refresh, since the engine wrote a record for it.
 */
import * as vscode from "vscode";

import type { LogoMeshClient } from "../api";
import type { ResultDocuments } from "../details";
import {
  engineName,
  showAnswer,
  showFailure,
  type Action,
  type NotifySetting,
  type Shown,
} from "../results";
import { showNotification } from "../notify";

const ACTION_LABELS: Record<Action, string> = {
  trust: "Manage Workspace Trust",
  approvals: "Show Pending Approvals",
  output: "Show Output",
  restart: "Restart Server",
};
const DETAILS = "Show details";

/** The workspace folder a command runs in: the active editor's, else the first. */
export function activeFolder(): vscode.WorkspaceFolder | undefined {
  const document = vscode.window.activeTextEditor?.document;
  const own =
    document === undefined ? undefined : vscode.workspace.getWorkspaceFolder(document.uri);
  return own ?? vscode.workspace.workspaceFolders?.[0];
}

/** `logomesh.showNotifications` (helper A's settings module documents it; read here so
 * each result honours a change at once). An unknown value counts as the default. */
export function notifySetting(folder?: vscode.WorkspaceFolder): NotifySetting {
  const value = vscode.workspace
    .getConfiguration("logomesh", folder?.uri)
    .get<string>("showNotifications");
  return value === "off" || value === "onError" || value === "onWarning" ? value : "always";
}

export class Runner implements vscode.Disposable {
  private readonly ran = new vscode.EventEmitter<string>();
  /** Fired with the LSP command's name after every run that is not a quiet listing. */
  readonly onDidRun = this.ran.event;

  constructor(
    readonly client: LogoMeshClient,
    readonly documents: ResultDocuments,
  ) {}

  /** Run a command the person asked for, with Cancel, and show its answer; resolves with
   * the raw answer (undefined when it failed or was cancelled). */
  run(
    lspCommand: string,
    args: Record<string, unknown>,
    folder = activeFolder(),
    title?: string,
  ): Promise<unknown> {
    return this.execute(lspCommand, args, folder, false, title);
  }

  /** A listing the extension needs (pipelines, tickets, records): progress in the status
   * bar, and only a failure or a warning shown. */
  list(
    lspCommand: string,
    args: Record<string, unknown>,
    folder = activeFolder(),
  ): Promise<unknown> {
    return this.execute(lspCommand, args, folder, true);
  }

  private async execute(
    lspCommand: string,
    args: Record<string, unknown>,
    folder: vscode.WorkspaceFolder | undefined,
    quiet: boolean,
    title = `LogoMesh: ${engineName(lspCommand)}`,
  ): Promise<unknown> {
    const location = quiet ? vscode.ProgressLocation.Window : vscode.ProgressLocation.Notification;
    let cancelled = false;
    try {
      const answer = await vscode.window.withProgress(
        { location, title, cancellable: !quiet },
        (_progress, token) => {
          token.onCancellationRequested(() => (cancelled = true));
          return this.client.execute(lspCommand, args, folder?.uri, token);
        },
      );
      const shown = showAnswer(answer, notifySetting(folder), lspCommand);
      this.present(quiet && shown.severity === "info" ? { ...shown, notify: false } : shown);
      return answer;
    } catch (error) {
      if (cancelled) {
        // The person cancelled it: the server recorded it as cancelled; no alarm.
        this.client.output.info(
          `LogoMesh ${engineName(lspCommand)}: cancelled; the audit trail records it as cancelled.`,
        );
      } else {
        this.present(showFailure(error, notifySetting(folder), lspCommand));
      }
      return undefined;
    } finally {
      // Listings are left out: the Recent Activity view's own listing would refresh it
      // again and again.
      if (!quiet) {
        this.ran.fire(lspCommand);
      }
    }
  }

  /** The output channel gets every line; a notification only what the setting allows. */
  present(shown: Shown): void {
    const log = this.client.output;
    const line = shown.code === undefined ? shown.text : `${shown.text} [${shown.code}]`;
    if (shown.severity === "error") {
      log.error(line);
    } else if (shown.severity === "warning") {
      log.warn(line);
    } else {
      log.info(line);
    }
    if (!shown.notify) {
      return;
    }
    const labels = [DETAILS, ...shown.actions.map((action) => ACTION_LABELS[action])];
    // Not awaited: a notification may stay open long after the command is done.
    void showNotification(shown.severity, shown.text, labels).then((picked) =>
      this.follow(picked, shown),
    );
  }

  private async follow(picked: string | undefined, shown: Shown): Promise<void> {
    if (picked === DETAILS) {
      await this.documents.open(shown.details);
    } else if (picked === ACTION_LABELS.trust) {
      await vscode.commands.executeCommand("workbench.trust.manage");
    } else if (picked === ACTION_LABELS.approvals) {
      await vscode.commands.executeCommand("logomesh.showApprovals");
    } else if (picked === ACTION_LABELS.restart) {
      await vscode.commands.executeCommand("logomesh.restart");
    } else if (picked === ACTION_LABELS.output) {
      this.client.output.show(true);
    }
  }

  /** A problem found before anything was sent (no folder, nothing to pick from). */
  problem(text: string): void {
    this.client.output.warn(text);
    if (notifySetting() !== "off") {
      void vscode.window.showWarningMessage(text);
    }
  }

  dispose(): void {
    this.ran.dispose();
  }
}
