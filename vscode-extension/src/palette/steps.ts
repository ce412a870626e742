/**
 * The argument steps of `schemaInputs.ts`, asked with VS Code's own quick pick and input
 * box. The input box runs each step's parser as you type, so a value that fails the schema
 * is explained there and can never be sent. Escape at any step cancels the whole command.
 */
import * as vscode from "vscode";

import type { InputStep, PickOption, PickStep, Step } from "../schemaInputs";

interface OptionItem extends vscode.QuickPickItem {
  option: PickOption;
}

/** The arguments, or undefined when the person cancelled. */
export async function askSteps(steps: Step[]): Promise<Record<string, unknown> | undefined> {
  const args: Record<string, unknown> = {};
  for (const step of steps) {
    const answer = step.kind === "pick" ? await pick(step) : await input(step);
    if (answer === undefined) {
      return undefined;
    }
    if (!answer.omit) {
      args[step.name] = answer.value;
    }
  }
  return args;
}

type Answer = { omit: true } | { omit: false; value: unknown };

async function pick(step: PickStep): Promise<Answer | undefined> {
  const items: OptionItem[] = step.options.map((option) => ({
    label: option.label,
    description: option.description,
    option,
  }));
  const chosen = await vscode.window.showQuickPick(items, {
    title: step.title,
    placeHolder: step.prompt,
    ignoreFocusOut: true,
  });
  if (chosen === undefined) {
    return undefined;
  }
  return chosen.option.omit ? { omit: true } : { omit: false, value: chosen.option.value };
}

async function input(step: InputStep): Promise<Answer | undefined> {
  const text = await vscode.window.showInputBox({
    title: step.title,
    prompt: step.prompt,
    value: step.value,
    placeHolder: step.placeholder,
    ignoreFocusOut: true,
    validateInput: (value) => {
      const parsed = step.parse(value);
      return parsed.kind === "error" ? parsed.message : undefined;
    },
  });
  if (text === undefined) {
    return undefined;
  }
  const parsed = step.parse(text);
  // validateInput already refused errors; this keeps the types honest.
  if (parsed.kind === "error") {
    return undefined;
  }
  return parsed.kind === "omit" ? { omit: true } : { omit: false, value: parsed.value };
}
