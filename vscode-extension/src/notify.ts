/**
 * A notification of a severity: the one place that picks VS Code's error, warning or
 * information message for it (whether to show one at all is `shouldNotify`'s call).
 */
import * as vscode from "vscode";

import type { Severity } from "./settings";

export function showNotification(
  severity: Severity,
  message: string,
  actions: string[],
): Thenable<string | undefined> {
  if (severity === "error") return vscode.window.showErrorMessage(message, ...actions);
  if (severity === "warning") return vscode.window.showWarningMessage(message, ...actions);
  return vscode.window.showInformationMessage(message, ...actions);
}
