/**
 * LogoMesh: Do... — plain words to `logomesh.do`. The server interprets them and runs the
 * proposal through the same validation, authorisation and confirmation as any command:
 * when the proposal needs a yes, the server asks with `window/showMessageRequest` (VS Code
 * shows it as a notification with Run and Cancel), so the extension adds no prompt of its
 * own. A Cancel comes back as "Declined: nothing ran".
 */
import * as vscode from "vscode";

import type { Runner } from "./runner";

/** `nl.interpret`'s limit on the text (InterpretArgs.text max_length). */
export const MAX_TEXT = 2000;

export function checkWords(text: string): string | undefined {
  if (text.trim() === "") {
    return "Say what you want in your own words, e.g. what changed since main.";
  }
  const length = [...text].length;
  return length > MAX_TEXT ? `LogoMesh: Do... takes at most ${MAX_TEXT} characters; this has ${length}.` : undefined;
}

export async function ask(runner: Runner): Promise<void> {
  const text = await vscode.window.showInputBox({
    title: "LogoMesh: Do...",
    prompt: "What do you want to do? In your own words; LogoMesh shows what it will run and asks before anything that changes something.",
    placeHolder: "what changed since main",
    ignoreFocusOut: true,
    validateInput: (value) => (value === "" ? undefined : checkWords(value)),
  });
  if (text === undefined || checkWords(text) !== undefined) {
    return;
  }
  await runner.run("logomesh.do", { text: text.trim() });
}
