/**
 * LogoMesh: Do... — plain words to `logomesh.do`. The server interprets them and runs the
 * proposal through the same validation, authorisation and confirmation as any command:
 * when the proposal needs a yes, the server asks with `window/showMessageRequest` (VS Code
 * shows it as a notification with Run and Cancel), so the extension adds no prompt of its
 * own. A Cancel comes back as "Declined: nothing ran".
 */
import * as vscode from "vscode";

import { checkWords } from "../words";
import type { Runner } from "./runner";

export async function ask(runner: Runner): Promise<void> {
  const text = await vscode.window.showInputBox({
    title: "LogoMesh: Do...",
    prompt:
      "What do you want to do? In your own words; LogoMesh shows what it will run and asks before anything that changes something.",
    placeHolder: "what changed since main",
    ignoreFocusOut: true,
    validateInput: (value) => (value === "" ? undefined : checkWords(value)),
  });
  if (text === undefined || checkWords(text) !== undefined) {
    return;
  }
  await runner.run("logomesh.do", { text: text.trim() }, undefined, `LogoMesh: ${text.trim()}`);
}
