/**
 * Rendering real answers: test/fixtures/answers.json holds what `logomesh run ... --json`
 * and `logomesh do ... --json` printed in a scratch workspace (the same JSON the server
 * sends). A failure is built as the server builds its JSON-RPC error (convert.py
 * result_or_error): the engine's message, `data.code` and the whole result.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { CommandError, type CommandFailure, type CommandResultJson } from "../src/api";
import {
  detailsOf,
  firstLine,
  showAnswer,
  showFailure,
} from "../src/results";

const answers = JSON.parse(
  readFileSync(join(__dirname, "fixtures", "answers.json"), "utf8"),
) as Record<string, unknown>;

function answer(name: string): CommandResultJson {
  const found = answers[name];
  if (found === undefined) {
    throw new Error(`no ${name} in the fixture`);
  }
  return found as CommandResultJson;
}

function rejected(result: CommandResultJson): CommandError {
  const failure: CommandFailure = {
    message: result.message,
    code: result.error?.code ?? "command.failed",
    result,
  };
  return new CommandError(failure);
}

describe("which answers notify (the table itself: settings.test.ts)", () => {
  it("the setting decides notify on every shown answer", () => {
    expect(showAnswer(answer("git.log"), "onError", "logomesh.git.log").notify).toBe(false);
    expect(showAnswer(answer("git.log"), "always", "logomesh.git.log").notify).toBe(true);
    expect(
      showFailure(
        rejected(answer("approvals.approve unknown")),
        "onError",
        "logomesh.approvals.approve",
      ).notify,
    ).toBe(true);
    expect(
      showFailure(
        rejected(answer("approvals.approve unknown")),
        "off",
        "logomesh.approvals.approve",
      ).notify,
    ).toBe(false);
  });
});

describe("a command's result", () => {
  it("git.log: info, the first line of the message", () => {
    const shown = showAnswer(answer("git.log"), "always", "logomesh.git.log");
    expect(shown).toMatchObject({
      severity: "info",
      text: "LogoMesh git.log: 1 commit(s).",
      actions: [],
    });
    expect(shown.details.language).toBe("json");
    expect(JSON.parse(shown.details.text)).toEqual(answer("git.log"));
  });

  it("git.diff: the details are the patch, as a diff", () => {
    const shown = showAnswer(answer("git.diff"), "always", "logomesh.git.diff");
    expect(shown.text).toBe(
      "LogoMesh git.diff: 1 file(s) changed, +1 -0 (working tree vs the index).",
    );
    expect(shown.details.language).toBe("diff");
    expect(shown.details.text).toMatch(/^diff --git a\/a.txt b\/a.txt\n/);
    expect(shown.details.title).toMatch(/^git\.diff [0-9a-f]{32}\.diff$/);
  });

  it("files.read: the details are the file's text", () => {
    const details = detailsOf(answer("files.read"));
    expect(details).toMatchObject({ language: "plaintext", text: "hi\nchange\n" });
  });

  it("tests.run with a failing test is an ok result: its message says FAILED", () => {
    const shown = showAnswer(answer("tests.run failed"), "always", "logomesh.tests.run");
    expect(shown.severity).toBe("info");
    expect(shown.text).toMatch(
      /^LogoMesh tests\.run: Tests FAILED \(exit status 1\): 1 passed, 1 failed, 0 skipped, 0 errors \(pytest, [\d.]+ s\)\.$/,
    );
  });

  it("warnings make it a warning, naming the first", () => {
    const result = {
      ...answer("git.log"),
      warnings: ["the index is locked; showing HEAD", "second"],
    };
    const shown = showAnswer(result, "onWarning", "logomesh.git.log");
    expect(shown).toMatchObject({ severity: "warning", notify: true, actions: ["output"] });
    expect(shown.text).toBe(
      "LogoMesh git.log: 1 commit(s). (2 warnings: the index is locked; showing HEAD)",
    );
  });

  it("an empty message falls back to the outcome", () => {
    expect(showAnswer({ ...answer("git.log"), message: "  " }, "always", "x").text).toBe(
      "LogoMesh git.log: ok",
    );
    expect(firstLine("first\nsecond", "x")).toBe("first");
  });
});

/** A JSON-RPC error as the server sent it -> the CommandFailure the client rejects with. */
function fromRpc(name: string): CommandError {
  const error = answers[name] as {
    message: string;
    data: { code: string; result: CommandResultJson };
  };
  return new CommandError({
    message: error.message,
    code: error.data.code,
    result: error.data.result,
  });
}

describe("failures", () => {
  it("arguments the server refused (the real JSON-RPC error): the field and the bound", () => {
    expect(
      showFailure(fromRpc("lsp error git.log count=900"), "always", "logomesh.git.log"),
    ).toMatchObject({
      severity: "error",
      code: "command.invalid_arguments",
      text: "LogoMesh git.log: Invalid arguments for git.log: `count`: Input should be less than or equal to 500 (got 900).",
    });
  });

  it("Cancel at the server's question (the real JSON-RPC error)", () => {
    expect(
      showFailure(fromRpc("lsp error git.push cancelled"), "onError", "logomesh.git.push"),
    ).toMatchObject({
      severity: "warning",
      notify: false,
      text: "LogoMesh git.push: Declined: nothing ran. git.push was not confirmed; nothing was done.",
    });
  });

  it("a declined confirmation says nothing ran", () => {
    const shown = showFailure(rejected(answer("git.push declined")), "always", "logomesh.git.push");
    expect(shown.severity).toBe("warning");
    expect(shown.code).toBe("command.cancelled");
    expect(shown.text).toMatch(
      /^LogoMesh git\.push: Declined: nothing ran\. git\.push was declined by root \(ticket [0-9a-f]+\): not now; nothing was done\.$/,
    );
  });

  it("an unknown ticket: the engine's message, which says how to find the open ones", () => {
    const shown = showFailure(
      rejected(answer("approvals.approve unknown")),
      "always",
      "logomesh.approvals.approve",
    );
    expect(shown).toMatchObject({
      severity: "error",
      code: "approval.unknown",
      text: "LogoMesh approvals.approve: There is no approval ticket 'nope'. List the open ones with `logomesh approvals list`.",
    });
    const details = JSON.parse(shown.details.text) as CommandFailure;
    expect(details.result?.audit_id).toBe(answer("approvals.approve unknown").audit_id);
  });

  it("a restricted workspace offers to trust it", () => {
    const failure = new CommandError({
      message:
        "tests.run runs the workspace's own code (pytest imports conftest.py), which Restricted Mode keeps off; trust the folder to run it.",
      code: "workspace.restricted",
    });
    const shown = showFailure(failure, "always", "logomesh.tests.run");
    expect(shown).toMatchObject({ severity: "error", actions: ["trust"] });
    expect(shown.text).toMatch(/^LogoMesh tests\.run: tests\.run runs the workspace's own code/);
  });

  it("a model that is not installed points at the output", () => {
    const failure = new CommandError({
      message: "The model package logomesh-model is not installed. Run `make install`.",
      code: "llm.unavailable",
    });
    expect(showFailure(failure, "always", "logomesh.code.explain")).toMatchObject({
      actions: ["output"],
      text: "LogoMesh code.explain: The model package logomesh-model is not installed. Run `make install`.",
    });
  });

  it("a server that is not running offers a restart; the client's message keeps its own prefix", () => {
    const failure = new CommandError({
      code: "server.unavailable",
      message:
        "LogoMesh: logomesh.git.log cannot run: the server exited. Run LogoMesh: Restart Server once it is fixed.",
    });
    expect(showFailure(failure, "always", "logomesh.git.log")).toMatchObject({
      severity: "error",
      actions: ["restart", "output"],
      text: "LogoMesh: logomesh.git.log cannot run: the server exited. Run LogoMesh: Restart Server once it is fixed.",
    });
  });

  it("something that is not a CommandError is still shown, as internal", () => {
    const shown = showFailure(
      new Error("Connection got disposed."),
      "always",
      "logomesh.git.status",
    );
    expect(shown).toMatchObject({
      severity: "error",
      code: "internal",
      text: "LogoMesh git.status: Connection got disposed.",
      actions: ["output"],
    });
  });
});

describe("logomesh.do", () => {
  it("a read proposal that ran: the result, then what the words were taken as", () => {
    const shown = showAnswer(answers["do git.status"], "always", "logomesh.do");
    expect(shown.severity).toBe("info");
    expect(shown.text).toBe(
      "LogoMesh git.status: On master: 1 changed, 8 untracked. — Running `git.status` (read risk, 62% sure).",
    );
  });

  it("a declined proposal (the real LSP answer after Cancel): Declined: nothing ran", () => {
    const shown = showAnswer(answers["lsp do git.push declined"], "always", "logomesh.do");
    expect(shown).toMatchObject({
      severity: "warning",
      code: "command.cancelled",
      text: "LogoMesh: Declined: nothing ran. Running `git.push` (danger risk, 83% sure).",
    });
  });

  it("words that could not be interpreted at all: an error with the reason", () => {
    const ran = answers["do git.status"] as Record<string, unknown>;
    const reason =
      "LogoMesh's nl.interpret failed unexpectedly (ImportError: numpy). The server keeps running.";
    const failed = {
      ...ran,
      command: null,
      decision: null,
      result: null,
      message: reason,
      interpretation: {
        ...(ran.interpretation as CommandResultJson),
        ok: false,
        outcome: "error",
        data: null,
        message: reason,
        error: { code: "internal", message: reason },
      },
    };
    expect(showAnswer(failed, "onError", "logomesh.do")).toMatchObject({
      severity: "error",
      notify: true,
      code: "internal",
      actions: ["output"],
      text: `LogoMesh nl.interpret: ${reason}`,
    });
  });

  it("words that matched nothing: LogoMesh asks back, as a warning", () => {
    const ran = answers["do git.status"] as Record<string, unknown>;
    const asked = {
      ...ran,
      command: null,
      decision: "ask",
      result: null,
      message: "Nothing I can run matches that; `logomesh commands` lists them.",
    };
    expect(showAnswer(asked, "onWarning", "logomesh.do")).toMatchObject({
      severity: "warning",
      notify: true,
      text: "LogoMesh: Nothing I can run matches that; `logomesh commands` lists them.",
    });
  });
});

describe("a pending answer", () => {
  it("names the ticket and offers the approvals", () => {
    const pending = {
      command: "git.push",
      ok: false,
      outcome: "pending",
      message:
        "LogoMesh: git.push waits for approval on ticket 01a2 (until 2026-12-02T00:31:32Z); another approver can approve it with logomesh.approvals.approve or `logomesh approvals approve 01a2`.",
      ticket: {
        id: "01a2",
        command: "git.push",
        risk: "danger",
        arguments: {},
        requester: "alice",
        expires_at: "2026-12-02T00:31:32Z",
        separate_approver: true,
      },
      approve: { command: "logomesh.approvals.approve", arguments: [{ id: "01a2" }] },
      correlation_id: "c1",
    };
    const shown = showAnswer(pending, "onWarning", "logomesh.git.push");
    expect(shown).toMatchObject({ severity: "warning", notify: true, actions: ["approvals"] });
    expect(shown.text).toMatch(/^LogoMesh: git\.push waits for approval on ticket 01a2/);
  });
});
