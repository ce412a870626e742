// Discovery against real files and real processes: small shell scripts stand in for a
// `logomesh` executable and for Pythons that can or cannot import lsp_server.
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  discover,
  failureMessage,
  SOURCES,
  type DiscoveryInput,
  type Probes,
  type PythonEnvironment,
} from "../src/discovery";
import { nodeProbes } from "../src/probes";

let root: string;
let bin: string;

async function script(file: string, body: string, mode = 0o755): Promise<string> {
  await writeFile(file, `#!/bin/sh\n${body}\n`);
  await chmod(file, mode);
  return file;
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "logomesh-discovery-"));
  bin = path.join(root, "bin");
  await mkdir(bin);
  await mkdir(path.join(root, "project", ".venv", "bin"), { recursive: true });
  await script(path.join(bin, "logomesh"), "exit 0");
  await script(path.join(root, "project", ".venv", "bin", "logomesh"), "exit 0");
  await script(path.join(root, "python-ok"), 'test "$1" = -c && test "$2" = "import lsp_server"');
  await script(
    path.join(root, "python-bad"),
    "echo 'Traceback (most recent call last):' >&2\n" +
      "echo \"ModuleNotFoundError: No module named 'lsp_server'\" >&2\nexit 1",
  );
  await script(path.join(root, "not-executable"), "exit 0", 0o644);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function input(
  overrides: Partial<DiscoveryInput["settings"]> & { envPath?: string } = {},
): DiscoveryInput {
  const { envPath, ...settings } = overrides;
  return {
    settings: { path: [], interpreter: [], args: [], problems: new Map(), ...settings },
    workspaceFolder: path.join(root, "project"),
    envPath: envPath ?? path.join(root, "empty"),
  };
}

/** Real fs and processes; the Python extension's answer, and whether it was asked, faked. */
function probes(environment: PythonEnvironment = { kind: "unavailable", reason: "not installed" }) {
  const asked: string[] = [];
  const real = nodeProbes(root, () => {
    asked.push("python extension");
    return Promise.resolve(environment);
  });
  return { probes: real satisfies Probes, asked };
}

describe("discovery order", () => {
  it("takes logomesh.path first, with its extra items before lsp and logomesh.args after", async () => {
    const { probes: real, asked } = probes();
    const found = await discover(
      input({
        path: [path.join(bin, "logomesh"), "--profile", "x"],
        args: ["--log-level", "DEBUG"],
      }),
      real,
    );
    expect(found.found && found.launch).toEqual({
      program: path.join(bin, "logomesh"),
      args: ["--profile", "x", "lsp", "--log-level", "DEBUG"],
      source: SOURCES.path,
    });
    expect(asked).toEqual([]); // the Python extension is not even asked
  });

  it("resolves a relative logomesh.path from the workspace folder and a bare name from PATH", async () => {
    const relative = await discover(input({ path: [".venv/bin/logomesh"] }), probes().probes);
    expect(relative.found && relative.launch.program).toBe(
      path.join(root, "project", ".venv", "bin", "logomesh"),
    );
    const bare = await discover(input({ path: ["logomesh"], envPath: bin }), probes().probes);
    expect(bare.found && bare.launch.program).toBe(path.join(bin, "logomesh"));
  });

  it("falls from a broken logomesh.path to logomesh.interpreter, run as -m lsp_server", async () => {
    const found = await discover(
      input({
        path: [path.join(root, "missing")],
        interpreter: [path.join(root, "python-ok")],
        args: ["--tcp", "x"],
      }),
      probes().probes,
    );
    expect(found.found && found.launch).toEqual({
      program: path.join(root, "python-ok"),
      args: ["-m", "lsp_server", "--tcp", "x"],
      source: SOURCES.interpreter,
    });
    expect(found.attempts.map((attempt) => attempt.source)).toEqual([
      SOURCES.path,
      SOURCES.interpreter,
    ]);
    expect(found.attempts[0]?.reason).toContain("is not an executable file");
  });

  it("uses the Python extension's environment when it can import lsp_server", async () => {
    const { probes: real, asked } = probes({
      kind: "found",
      executable: path.join(root, "python-ok"),
    });
    const found = await discover(input({ interpreter: [path.join(root, "python-bad")] }), real);
    expect(asked).toEqual(["python extension"]);
    expect(found.found && found.launch.args).toEqual(["-m", "lsp_server"]);
    expect(found.found && found.launch.source).toContain(SOURCES.python);
  });

  it("ends with logomesh on the PATH", async () => {
    const found = await discover(
      input({ envPath: [path.join(root, "empty"), bin].join(path.delimiter) }),
      probes().probes,
    );
    expect(found.found && found.launch).toEqual({
      program: path.join(bin, "logomesh"),
      args: ["lsp"],
      source: SOURCES.onPath,
    });
    expect(found.attempts.map((attempt) => attempt.reason)).toEqual([
      "is not set",
      "is not set",
      "not installed",
      undefined,
    ]);
  });

  it("skips relative PATH entries: a `.` on the PATH must not run the workspace's own logomesh", async () => {
    const found = await discover(
      input({ envPath: "." }),
      nodeProbes(path.join(root, "bin"), () =>
        Promise.resolve({ kind: "unavailable", reason: "not installed" }),
      ),
    );
    expect(found.found).toBe(false);
  });
});

describe("when nothing works", () => {
  it("names every candidate tried and why each failed, in one message", async () => {
    const found = await discover(
      input({
        path: [path.join(root, "not-executable")],
        interpreter: [path.join(root, "python-bad")],
        envPath: path.join(root, "empty"),
      }),
      probes({ kind: "found", executable: path.join(root, "python-bad") }).probes,
    );
    expect(found.found).toBe(false);
    const message = failureMessage(found.attempts);
    expect(message).toContain(
      `logomesh.path: ${path.join(root, "not-executable")} is not an executable file`,
    );
    expect(message).toContain(
      `logomesh.interpreter: ${path.join(root, "python-bad")} cannot import lsp_server ` +
        "(ModuleNotFoundError: No module named 'lsp_server'); install LogoMesh into it",
    );
    expect(message).toContain(
      `the Python extension's environment (${path.join(root, "python-bad")}): `,
    );
    expect(message).toContain(`\`logomesh\` on the PATH: not found in ${path.join(root, "empty")}`);
    expect(message).toContain("Set logomesh.path to the logomesh executable");
  });

  it("reports a setting's own problem as that candidate's reason", async () => {
    const problems = new Map([
      ["logomesh.path", "logomesh.path must be a list of strings; got number 3."],
    ]);
    const found = await discover(input({ problems }), probes().probes);
    expect(failureMessage(found.attempts)).toContain(
      "logomesh.path: logomesh.path must be a list of strings",
    );
  });

  it("says so when the Python extension is not installed or the interpreter is missing", async () => {
    const found = await discover(
      input({ interpreter: ["/nonexistent/python3"] }),
      probes({
        kind: "unavailable",
        reason: "the Python extension (ms-python.python) is not installed",
      }).probes,
    );
    const message = failureMessage(found.attempts);
    expect(message).toContain(
      "logomesh.interpreter: /nonexistent/python3 is not an executable file",
    );
    expect(message).toContain("the Python extension (ms-python.python) is not installed");
  });
});

describe("a real Python", () => {
  const venvPython = path.resolve(__dirname, "..", "..", ".venv", "bin", "python");
  it("the system python3 cannot import lsp_server, and the message quotes Python's error", async () => {
    const found = await discover(
      input({ interpreter: ["python3"], envPath: "/usr/bin:/bin" }),
      probes().probes,
    );
    const interpreter = found.attempts[1];
    expect(interpreter?.reason).toMatch(
      /cannot import lsp_server \(ModuleNotFoundError: No module named 'lsp_server'\)/,
    );
  });

  it.skipIf(process.env.LOGOMESH_VENV_PYTHON === undefined && !existsSync(venvPython))(
    "the repository's .venv (LogoMesh installed) is launched as python -m lsp_server",
    async () => {
      const python = process.env.LOGOMESH_VENV_PYTHON ?? venvPython;
      const found = await discover(input({ interpreter: [python] }), probes().probes);
      expect(found.found && found.launch).toEqual({
        program: python,
        args: ["-m", "lsp_server"],
        source: SOURCES.interpreter,
      });
    },
  );
});
