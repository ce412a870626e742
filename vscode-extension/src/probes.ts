/**
 * The file-system and process probes discovery uses (src/discovery.ts): whether a file is
 * executable, and running a program with `execFile` (never a shell) to see if it works.
 * Node only, no `vscode`, so the tests run discovery against real files and processes.
 */
import * as cp from "node:child_process";
import * as fs from "node:fs/promises";

import type { ProcessOutcome, Probes } from "./discovery";

/** How long `python -c "import lsp_server"` may take: a cold disk, a slow machine. */
const IMPORT_CHECK_TIMEOUT_MS = 30_000;

/** The real probes, with the Python extension's answer supplied by the caller. */
export function nodeProbes(
  cwd: string | undefined,
  pythonEnvironment: Probes["pythonEnvironment"],
): Probes {
  return { isExecutable, run: (program, args) => run(program, args, cwd), pythonEnvironment };
}

export async function isExecutable(file: string): Promise<boolean> {
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) return false;
    await fs.access(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function run(
  program: string,
  args: string[],
  cwd: string | undefined,
  timeoutMs = IMPORT_CHECK_TIMEOUT_MS,
): Promise<ProcessOutcome> {
  return new Promise((resolve) => {
    const options = { cwd, timeout: timeoutMs, windowsHide: true, encoding: "utf8" as const };
    cp.execFile(program, args, options, (error, _stdout, stderr) => {
      if (error === null) {
        resolve({ code: 0, stderr });
      } else if (typeof error.code === "number") {
        resolve({ code: error.code, stderr });
      } else if (error.killed === true) {
        resolve({ code: null, stderr, error: `it did not answer within ${timeoutMs / 1000} s` });
      } else {
        resolve({ code: null, stderr, error: error.message });
      }
    });
  });
}
