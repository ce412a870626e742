/**
 * The Python extension's active environment, for discovery's third candidate: asked
 * through `@vscode/python-extension` only when the extension is installed, and imported
 * only when discovery gets that far (the first two candidates are settings).
 */
import * as vscode from "vscode";

import type { PythonEnvironment } from "./discovery";

const PYTHON_EXTENSION = "ms-python.python";

export async function pythonEnvironment(
  folder: vscode.WorkspaceFolder | undefined,
): Promise<PythonEnvironment> {
  if (vscode.extensions.getExtension(PYTHON_EXTENSION) === undefined) {
    return {
      kind: "unavailable",
      reason: `the Python extension (${PYTHON_EXTENSION}) is not installed`,
    };
  }
  try {
    const { PythonExtension } = await import("@vscode/python-extension");
    const api = await PythonExtension.api();
    const active = api.environments.getActiveEnvironmentPath(folder?.uri);
    const resolved = await api.environments.resolveEnvironment(active);
    const executable = resolved?.executable.uri?.fsPath;
    if (executable === undefined) {
      return { kind: "unavailable", reason: `no Python interpreter is selected (${active.path})` };
    }
    return { kind: "found", executable };
  } catch (error) {
    return { kind: "unavailable", reason: `the Python extension did not answer: ${String(error)}` };
  }
}

/** Fires when the Python extension's active environment changes, if it is installed. */
export async function onPythonEnvironmentChange(
  listener: () => void,
): Promise<vscode.Disposable | undefined> {
  if (vscode.extensions.getExtension(PYTHON_EXTENSION) === undefined) return undefined;
  try {
    const { PythonExtension } = await import("@vscode/python-extension");
    const api = await PythonExtension.api();
    return api.environments.onDidChangeActiveEnvironmentPath(() => listener());
  } catch {
    return undefined;
  }
}
