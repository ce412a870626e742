/**
 * Read-only documents for "Show details": a result's JSON, a diff, a command's output, an
 * audit record. They live under the `logomesh-result:` scheme, so VS Code never offers to
 * save them into the workspace and nothing is written to disk. The text is kept in memory
 * for the last documents opened only: a long session does not hold every result.
 */
import * as vscode from "vscode";

import type { Details } from "./results";

export const SCHEME = "logomesh-result";
const KEPT = 50;

export class ResultDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly texts = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  private opened = 0;
  readonly onDidChange = this.changed.event;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return (
      this.texts.get(uri.toString()) ??
      "This LogoMesh result is no longer kept (only the latest 50 are). Run the command again, or find its record with LogoMesh: Search the Audit Trail...\n"
    );
  }

  /** Open `details` beside nothing else: a preview tab that the next one replaces. */
  async open(details: Details): Promise<void> {
    this.opened += 1;
    // The counter keeps two results of one command apart; the title stays readable.
    const uri = vscode.Uri.from({
      scheme: SCHEME,
      path: `/${details.title}`,
      query: String(this.opened),
    });
    this.remember(uri.toString(), details.text);
    const document = await vscode.workspace.openTextDocument(uri);
    const typed =
      document.languageId === details.language
        ? document
        : await vscode.languages.setTextDocumentLanguage(document, details.language);
    await vscode.window.showTextDocument(typed, { preview: true });
  }

  private remember(key: string, text: string): void {
    this.texts.set(key, text);
    while (this.texts.size > KEPT) {
      const oldest = this.texts.keys().next().value;
      if (oldest === undefined) {
        break;
      }
      this.texts.delete(oldest);
    }
  }

  dispose(): void {
    this.changed.dispose();
    this.texts.clear();
  }
}
