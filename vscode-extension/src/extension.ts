/**
 * The extension's entry point: creates the output channel, the client and the status bar,
 * registers the two commands the lifecycle owns (Restart Server, Show Output), hands the
 * client to the palette commands and views (src/features.ts), and starts the server.
 *
 * Activation stays cheap: nothing waits for the server here (it starts in the background
 * and requests wait for it), and no module does work at import time.
 */
import * as vscode from "vscode";

import { LogoMeshLanguageClient } from "./client";
import { registerFeatures } from "./features";
import { StatusBarController } from "./statusBar";

/** The running client, for deactivate (VS Code waits for the promise it returns). */
let running: LogoMeshLanguageClient | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const started = performance.now();
  const output = vscode.window.createOutputChannel("LogoMesh", { log: true });
  const client = new LogoMeshLanguageClient(output);
  running = client;
  const item = vscode.window.createStatusBarItem(
    "logomesh.status",
    vscode.StatusBarAlignment.Left,
    10,
  );
  item.name = "LogoMesh";
  const statusBar = new StatusBarController(item, client, () =>
    vscode.workspace.workspaceFolders?.[0]?.uri.toString(),
  );
  context.subscriptions.push(
    output,
    statusBar,
    vscode.commands.registerCommand("logomesh.restart", () => client.restart()),
    vscode.commands.registerCommand("logomesh.showOutput", () => output.show()),
  );
  registerFeatures(context, client);
  void client.start();
  output.info(`LogoMesh extension activated in ${(performance.now() - started).toFixed(1)} ms.`);
}

export async function deactivate(): Promise<void> {
  const client = running;
  running = undefined;
  await client?.dispose();
}
