/**
 * The real probes discovery uses (src/discovery.ts): the file system, `execFile` (never a
 * shell) and the Python extension's API. Kept apart so discovery itself stays pure.
 */
import * as cp from "node:child_process";
import * as fs from "node:fs/promises";
import * as vscode from "vscode";

import type { ProcessOutcome, Probes, PythonEnvironment } from "./discovery";

/** How long `python -c "import lsp_server"` may take: a cold disk, a slow machine. */
const IMPORT_CHECK_TIMEOUT_MS = 30_000;
const PYTHON_EXTENSION = "ms-python.python";

export function realProbes(folder: vscode.WorkspaceFolder | undefined): Probes {
  return {
    isExecutable,
    run: (program, args) => run(program, args, folder?.uri.fsPath),
    pythonEnvironment: () => pythonEnvironment(folder),
  };
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) return false;
    await fs.access(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function run(program: string, args: string[], cwd: string | undefined): Promise<ProcessOutcome> {
  return new Promise((resolve) => {
    const options = { cwd, timeout: IMPORT_CHECK_TIMEOUT_MS, windowsHide: true, encoding: "utf8" as const };
    cp.execFile(program, args, options, (error, _stdout, stderr) => {
      if (error === null) {
        resolve({ code: 0, stderr });
      } else if (typeof error.code === "number") {
        resolve({ code: error.code, stderr });
      } else if (error.killed === true) {
        resolve({ code: null, stderr, error: `it did not answer within ${IMPORT_CHECK_TIMEOUT_MS / 1000} s` });
      } else {
        resolve({ code: null, stderr, error: error.message });
      }
    });
  });
}

async function pythonEnvironment(
  folder: vscode.WorkspaceFolder | undefined,
): Promise<PythonEnvironment> {
  if (vscode.extensions.getExtension(PYTHON_EXTENSION) === undefined) {
    return { kind: "unavailable", reason: `the Python extension (${PYTHON_EXTENSION}) is not installed` };
  }
  try {
    // Imported here: only a discovery that gets this far needs it.
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
export async function onPythonEnvironmentChange(listener: () => void): Promise<vscode.Disposable | undefined> {
  if (vscode.extensions.getExtension(PYTHON_EXTENSION) === undefined) return undefined;
  try {
    const { PythonExtension } = await import("@vscode/python-extension");
    const api = await PythonExtension.api();
    return api.environments.onDidChangeActiveEnvironmentPath(() => listener());
  } catch {
    return undefined;
  }
}
