/**
 * Finding the LogoMesh language server, in the order of Microsoft's Python tool extension
 * template: the `logomesh.path` setting, then `logomesh.interpreter`, then the Python
 * extension's active environment, then `logomesh` on the PATH.
 *
 * Each candidate is checked before it is used (the program exists and is executable; an
 * interpreter can `import lsp_server`), so a wrong setting is reported as such instead of
 * as a server that crashed. When none works, the failure lists every candidate and why it
 * failed: the person reads one notification and knows what to fix.
 *
 * Pure logic: the file system, processes and the Python extension come in as `Probes`, so
 * the order and the messages are unit tested (test/discovery.test.ts).
 */
import * as path from "node:path";

import type { Settings } from "./settings";

/** How the server is started: a program and its arguments, over stdio, no shell. */
export interface Launch {
  readonly program: string;
  readonly args: string[];
  /** Which candidate it came from, e.g. `logomesh.path`. */
  readonly source: string;
}

/** A candidate that was looked at, and why it was not used (undefined: it was). */
export interface Attempt {
  readonly source: string;
  readonly reason: string | undefined;
}

export type Discovery =
  | { readonly found: true; readonly launch: Launch; readonly attempts: Attempt[] }
  | { readonly found: false; readonly attempts: Attempt[] };

export interface ProcessOutcome {
  /** null: the process did not exit by itself (killed, or it could not start). */
  readonly code: number | null;
  readonly stderr: string;
  /** Why it could not run at all (ENOENT, a timeout). */
  readonly error?: string;
}

/** What the Python extension says about the active environment. */
export type PythonEnvironment =
  | { readonly kind: "found"; readonly executable: string }
  | { readonly kind: "unavailable"; readonly reason: string };

export interface Probes {
  /** Whether `file` is a regular file this user may execute. */
  isExecutable(file: string): Promise<boolean>;
  /** Runs `program args` (never through a shell) and waits for it. */
  run(program: string, args: string[]): Promise<ProcessOutcome>;
  pythonEnvironment(): Promise<PythonEnvironment>;
}

export interface DiscoveryInput {
  readonly settings: Pick<Settings, "path" | "interpreter" | "args" | "problems">;
  /** Relative program paths are taken from here (the first workspace folder). */
  readonly workspaceFolder: string | undefined;
  /** The PATH environment variable. */
  readonly envPath: string;
}

export const SOURCES = {
  path: "logomesh.path",
  interpreter: "logomesh.interpreter",
  python: "the Python extension's environment",
  onPath: "`logomesh` on the PATH",
} as const;

export async function discover(input: DiscoveryInput, probes: Probes): Promise<Discovery> {
  const attempts: Attempt[] = [];
  const candidates = [fromPath, fromInterpreter, fromPythonExtension, fromEnvPath];
  for (const candidate of candidates) {
    const outcome = await candidate(input, probes);
    attempts.push({ source: outcome.source, reason: outcome.reason });
    if (outcome.launch !== undefined) {
      return { found: true, launch: outcome.launch, attempts };
    }
  }
  return { found: false, attempts };
}

interface Outcome {
  readonly source: string;
  readonly launch?: Launch;
  readonly reason?: string;
}

async function fromPath(input: DiscoveryInput, probes: Probes): Promise<Outcome> {
  const source = SOURCES.path;
  const problem = input.settings.problems.get(source);
  if (problem !== undefined) return { source, reason: problem };
  const [program, ...extra] = input.settings.path;
  if (program === undefined) return { source, reason: "is not set" };
  const file = await locate(program, input, probes);
  if (file === undefined) {
    return { source, reason: `${program} is not an executable file` };
  }
  return {
    source,
    launch: { program: file, args: [...extra, "lsp", ...input.settings.args], source },
  };
}

async function fromInterpreter(input: DiscoveryInput, probes: Probes): Promise<Outcome> {
  const source = SOURCES.interpreter;
  const problem = input.settings.problems.get(source);
  if (problem !== undefined) return { source, reason: problem };
  const [program, ...extra] = input.settings.interpreter;
  if (program === undefined) return { source, reason: "is not set" };
  const file = await locate(program, input, probes);
  if (file === undefined) return { source, reason: `${program} is not an executable file` };
  return checkInterpreter(source, file, extra, input, probes);
}

async function fromPythonExtension(input: DiscoveryInput, probes: Probes): Promise<Outcome> {
  const source = SOURCES.python;
  const environment = await probes.pythonEnvironment();
  if (environment.kind === "unavailable") return { source, reason: environment.reason };
  const described = `${source} (${environment.executable})`;
  if (!(await probes.isExecutable(environment.executable))) {
    return { source: described, reason: "is not an executable file" };
  }
  return checkInterpreter(described, environment.executable, [], input, probes);
}

async function fromEnvPath(input: DiscoveryInput, probes: Probes): Promise<Outcome> {
  const source = SOURCES.onPath;
  const file = await searchPath("logomesh", input.envPath, probes);
  if (file === undefined) {
    const where = pathDirectories(input.envPath);
    return {
      source,
      reason: where.length > 0 ? `not found in ${where.join(", ")}` : "not found: PATH is empty",
    };
  }
  return { source, launch: { program: file, args: ["lsp", ...input.settings.args], source } };
}

/** A Python works when it can import the server's package: it has LogoMesh installed. */
async function checkInterpreter(
  source: string,
  python: string,
  extra: string[],
  input: DiscoveryInput,
  probes: Probes,
): Promise<Outcome> {
  const outcome = await probes.run(python, [...extra, "-c", "import lsp_server"]);
  if (outcome.code === 0) {
    const args = [...extra, "-m", "lsp_server", ...input.settings.args];
    return { source, launch: { program: python, args, source } };
  }
  const why = outcome.error ?? (lastLine(outcome.stderr) || `exit code ${String(outcome.code)}`);
  return {
    source,
    reason: `${python} cannot import lsp_server (${why}); install LogoMesh into it (pip install logomesh)`,
  };
}

/**
 * An absolute program as it is, a relative one with a slash from the workspace folder
 * (`.venv/bin/logomesh`), a bare name from the PATH (`logomesh`), as a shell would.
 */
async function locate(
  program: string,
  input: DiscoveryInput,
  probes: Probes,
): Promise<string | undefined> {
  if (path.isAbsolute(program)) {
    return (await probes.isExecutable(program)) ? program : undefined;
  }
  if (program.includes("/") || program.includes(path.sep)) {
    const file = path.resolve(input.workspaceFolder ?? process.cwd(), program);
    return (await probes.isExecutable(file)) ? file : undefined;
  }
  return searchPath(program, input.envPath, probes);
}

export async function searchPath(
  name: string,
  envPath: string,
  probes: Pick<Probes, "isExecutable">,
): Promise<string | undefined> {
  for (const directory of pathDirectories(envPath)) {
    const file = path.join(directory, name);
    if (await probes.isExecutable(file)) return file;
  }
  return undefined;
}

function pathDirectories(envPath: string): string[] {
  return envPath.split(path.delimiter).filter((directory) => path.isAbsolute(directory));
}

function lastLine(text: string): string {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== "");
  return lines.at(-1)?.trim() ?? "";
}

/** The one notification for a failed discovery: every candidate and why it failed. */
export function failureMessage(attempts: readonly Attempt[]): string {
  const tried = attempts
    .filter((attempt) => attempt.reason !== undefined)
    .map((attempt) => `${attempt.source}: ${attempt.reason}`)
    .join("; ");
  return (
    `LogoMesh: no LogoMesh language server found. Tried ${tried}. ` +
    "Set logomesh.path to the logomesh executable, or logomesh.interpreter to a Python " +
    "that has LogoMesh installed, then run LogoMesh: Restart Server."
  );
}

/** The command line as a person would type it, for the output channel. */
export function describeLaunch(launch: Launch): string {
  return [launch.program, ...launch.args].map(quote).join(" ");
}

function quote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}
