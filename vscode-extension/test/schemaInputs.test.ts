/**
 * Argument steps built from real schemas: test/fixtures/commands.json is what the server's
 * `logomesh.commands` answered in a scratch workspace (each entry's `arguments` and
 * `provider` keys dropped), plus `pipeline.kinds`, a pipeline declaring one input of each
 * type LogoMesh pipelines allow.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import type { ServerCommand } from "../src/api";
import { check } from "../src/schemaCheck";
import {
  buildSteps,
  type InputStep,
  type Parsed,
  type PickStep,
  type Step,
} from "../src/schemaInputs";

const commands = JSON.parse(
  readFileSync(join(__dirname, "fixtures", "commands.json"), "utf8"),
) as ServerCommand[];

function command(name: string): ServerCommand {
  const found = commands.find((entry) => entry.name === name);
  if (found === undefined) {
    throw new Error(`no ${name} in the fixture`);
  }
  return found;
}

function steps(name: string, start?: Record<string, unknown>): Step[] {
  return buildSteps(name, command(name).schema, start);
}

function step<K extends Step["kind"]>(
  name: string,
  field: string,
  kind: K,
  start?: Record<string, unknown>,
): Extract<Step, { kind: K }> {
  const found = steps(name, start).find((entry) => entry.name === field);
  expect(found?.kind).toBe(kind);
  return found as Extract<Step, { kind: K }>;
}

function input(name: string, field: string, start?: Record<string, unknown>): InputStep {
  return step(name, field, "input", start);
}

function pick(name: string, field: string): PickStep {
  return step(name, field, "pick");
}

function error(parsed: Parsed): string {
  expect(parsed.kind).toBe("error");
  return parsed.kind === "error" ? parsed.message : "";
}

describe("git.log", () => {
  it("asks for every property, in order, with its position", () => {
    expect(steps("git.log").map((entry) => [entry.name, entry.kind, entry.title])).toEqual([
      ["count", "input", "git.log: count (1 of 3)"],
      ["path", "input", "git.log: path (2 of 3)"],
      ["ref", "input", "git.log: ref (3 of 3)"],
    ]);
  });

  it("fills in the default and says the range", () => {
    const count = input("git.log", "count");
    expect(count.value).toBe("10");
    expect(count.prompt).toBe(
      "count: how many commits (a whole number from 1 to 500; leave empty to leave it out)",
    );
    expect(count.parse("5")).toEqual({ kind: "value", value: 5 });
  });

  it("says why a count fails before sending it", () => {
    const count = input("git.log", "count");
    expect(error(count.parse("900"))).toBe(
      "git.log count must be a whole number from 1 to 500; got 900.",
    );
    expect(error(count.parse("0"))).toBe(
      "git.log count must be a whole number from 1 to 500; got 0.",
    );
    expect(error(count.parse("five"))).toBe(
      'git.log count: "five" is not a whole number from 1 to 500.',
    );
    expect(error(count.parse("2.5"))).toContain("is not a whole number");
  });

  it("leaves out an optional field left empty", () => {
    expect(input("git.log", "count").parse("")).toEqual({ kind: "omit" });
    const path = input("git.log", "path");
    expect(path.value).toBe("");
    expect(path.parse("  ")).toEqual({ kind: "omit" });
    expect(path.parse("src/app.py")).toEqual({ kind: "value", value: "src/app.py" });
  });

  it("checks a string's length in characters, as the server counts them", () => {
    const path = input("git.log", "path");
    expect(error(path.parse("x".repeat(4097)))).toBe(
      "git.log path must be text, 1 to 4096 characters; this has 4097.",
    );
    expect(path.parse("é".repeat(4096))).toEqual({ kind: "value", value: "é".repeat(4096) });
  });

  it("starts from a past run's values instead of the defaults", () => {
    expect(input("git.log", "count", { count: 3 }).value).toBe("3");
    expect(input("git.log", "ref", { ref: "main" }).value).toBe("main");
  });
});

describe("booleans and enums are picks", () => {
  it("git.diff staged: yes or no, the default first", () => {
    const staged = pick("git.diff", "staged");
    expect(staged.options.map((option) => [option.label, option.value, option.picked])).toEqual([
      ["No", false, true],
      ["Yes", true, false],
    ]);
    expect(staged.options[0]?.description).toBe("default");
  });

  it("tests.run runner: the enum's values, default first, no way to leave out", () => {
    const runner = pick("tests.run", "runner");
    expect(runner.options.map((option) => option.label)).toEqual([
      "auto",
      "pytest",
      "npm",
      "go",
      "cargo",
    ]);
    expect(runner.options.some((option) => option.omit)).toBe(false);
    expect(runner.prompt).toBe("runner: auto: pytest, npm, go or cargo, from the project's files");
  });

  it("audit.query outcome: an enum behind $ref and anyOf-null can be left out", () => {
    const outcome = pick("audit.query", "outcome");
    expect(outcome.options.map((option) => option.label)).toEqual([
      "(leave out)",
      "ok",
      "denied",
      "error",
      "cancelled",
      "started",
    ]);
    expect(outcome.options[0]).toMatchObject({ omit: true, picked: true });
    // No description of its own: the enum's docstring says what it is.
    expect(pick("audit.query", "source").prompt).toBe(
      "source: The adapter or part of the engine an interaction came through.",
    );
  });

  it("approvals.list state: the $defs enum with the field's own description", () => {
    const state = pick("approvals.list", "state");
    expect(state.prompt).toBe("state: only tickets in this state");
    expect(state.options.map((option) => option.value)).toEqual([
      undefined,
      "pending",
      "approved",
      "declined",
      "expired",
      "cancelled",
    ]);
  });

  it("a required boolean has no leave-out option and nothing picked", () => {
    const flag = pick("pipeline.kinds", "flag");
    expect(flag.required).toBe(true);
    expect(flag.options.map((option) => [option.label, option.picked])).toEqual([
      ["Yes", false],
      ["No", false],
    ]);
  });

  it("a plugin's type list with null is the non-null type", () => {
    const schema = { type: "object", properties: { n: { type: ["integer", "null"] } } };
    const [n] = buildSteps("demo", schema);
    expect(n?.kind).toBe("input");
    expect((n as InputStep).parse("4")).toEqual({ kind: "value", value: 4 });
  });

  it("anyOf of consts (a Literal union) is a pick of the consts", () => {
    const schema = {
      type: "object",
      properties: {
        level: { anyOf: [{ const: "low" }, { const: "high" }, { type: "null" }], default: null },
      },
    };
    const [level] = buildSteps("demo", schema);
    expect(level?.kind).toBe("pick");
    expect((level as PickStep).options.map((option) => option.label)).toEqual([
      "(leave out)",
      "low",
      "high",
    ]);
  });
});

describe("required fields", () => {
  it("audit.search query may not be empty", () => {
    const query = input("audit.search", "query");
    expect(query.required).toBe(true);
    expect(error(query.parse(""))).toBe("audit.search needs query: type text.");
    expect(query.parse("who pushed")).toEqual({ kind: "value", value: "who pushed" });
  });

  it("approvals.approve id: required, with its length bounds", () => {
    const id = input("approvals.approve", "id");
    expect(error(id.parse(""))).toBe("approvals.approve needs id: type text, 1 to 64 characters.");
    expect(error(id.parse("x".repeat(65)))).toBe(
      "approvals.approve id must be text, 1 to 64 characters; this has 65.",
    );
  });

  it("approvals.approve reason: optional, bounded", () => {
    const reason = input("approvals.approve", "reason");
    expect(reason.parse("")).toEqual({ kind: "omit" });
    expect(error(reason.parse("r".repeat(2001)))).toBe(
      "approvals.approve reason must be text, at most 2000 characters; this has 2001.",
    );
  });
});

describe("numbers", () => {
  it("llm.ask temperature: a number from 0 to 2", () => {
    const temperature = input("llm.ask", "temperature");
    expect(temperature.parse("0.7")).toEqual({ kind: "value", value: 0.7 });
    expect(error(temperature.parse("2.5"))).toBe(
      "llm.ask temperature must be a number from 0 to 2; got 2.5.",
    );
    expect(error(temperature.parse("1,5"))).toBe(
      'llm.ask temperature: "1,5" is not a number from 0 to 2.',
    );
  });

  it("llm.ask max_tokens: exclusive minimum inside anyOf", () => {
    const tokens = input("llm.ask", "max_tokens");
    expect(tokens.placeholder).toBe("a whole number above 0 and at most 32768");
    expect(error(tokens.parse("0"))).toBe(
      "llm.ask max_tokens must be a whole number above 0 and at most 32768; got 0.",
    );
    expect(tokens.parse("64")).toEqual({ kind: "value", value: 64 });
  });

  it("plugin.check timeout_s: the float default is shown", () => {
    const timeout = input("plugin.check", "timeout_s");
    expect(timeout.value).toBe("10");
    expect(error(timeout.parse("-1"))).toContain("above 0 and at most 600");
  });
});

describe("arrays and objects (pipeline inputs)", () => {
  it("an array is typed as comma-separated values", () => {
    const names = input("pipeline.kinds", "names");
    expect(names.parse("alice, bob ,carol,")).toEqual({
      kind: "value",
      value: ["alice", "bob", "carol"],
    });
    expect(names.parse('["a,b", "c"]')).toEqual({ kind: "value", value: ["a,b", "c"] });
    expect(names.parse("")).toEqual({ kind: "omit" });
  });

  it("an array of integers parses each item and names the bad one", () => {
    const schema = {
      type: "object",
      properties: { ids: { type: "array", items: { type: "integer", minimum: 1 } } },
    };
    const ids = buildSteps("demo", schema)[0] as InputStep;
    expect(ids.parse("1, 2, 3")).toEqual({ kind: "value", value: [1, 2, 3] });
    expect(error(ids.parse("1, x"))).toBe('demo ids: "x" is not a whole number at least 1.');
    expect(error(ids.parse("[1, 0]"))).toBe(
      "demo ids[1] must be a whole number at least 1; got 0.",
    );
  });

  it("a list default is shown comma-separated", () => {
    const schema = {
      type: "object",
      properties: { tags: { type: "array", items: { type: "string" }, default: ["a", "b"] } },
    };
    expect((buildSteps("demo", schema)[0] as InputStep).value).toBe("a, b");
  });

  it("an object is typed as JSON", () => {
    const opts = input("pipeline.kinds", "opts");
    expect(opts.parse('{"x": 1}')).toEqual({ kind: "value", value: { x: 1 } });
    expect(error(opts.parse("{x: 1}"))).toMatch(
      /^pipeline\.kinds opts: this is not a JSON object \(/,
    );
    expect(error(opts.parse("[1]"))).toBe("pipeline.kinds opts must be a JSON object; got [1].");
  });

  it("code.explain range: a $ref'd object, its keys and types checked", () => {
    const range = input("code.explain", "range");
    expect(range.placeholder).toBe('a JSON object such as {"start_line": ..., "end_line": ...}');
    expect(range.parse('{"start_line": 1, "end_line": 4}')).toEqual({
      kind: "value",
      value: { start_line: 1, end_line: 4 },
    });
    expect(error(range.parse('{"start_line": 1}'))).toContain('range needs the key "end_line"');
    expect(error(range.parse('{"start_line": 0, "end_line": 4}'))).toBe(
      "code.explain range.start_line must be a whole number at least 1; got 0.",
    );
    expect(error(range.parse('{"start_line": 1, "end_line": 2, "col": 3}'))).toBe(
      'code.explain range has no key "col"; it takes start_line, end_line.',
    );
  });

  it("a required pipeline input with no default", () => {
    const who = input("pipeline.kinds", "who");
    expect(who.required).toBe(true);
    expect(error(who.parse(""))).toBe("pipeline.kinds needs who: type text.");
    expect(input("pipeline.kinds", "count").value).toBe("3");
  });

  it("pipeline.release: an anyOf-string input with a default", () => {
    const remote = input("pipeline.release", "remote");
    expect(remote.value).toBe("origin");
    expect(remote.prompt).toBe(
      "remote: the configured remote to push to (text; leave empty to leave it out)",
    );
  });
});

describe("patterns and the value checker", () => {
  const schema = {
    type: "object",
    properties: { branch: { type: "string", pattern: "^[a-z][a-z0-9-]*$" } },
    required: ["branch"],
  };

  it("a pattern is checked, as JSON Schema does (search)", () => {
    const branch = buildSteps("demo", schema)[0] as InputStep;
    expect(branch.parse("feature-1")).toEqual({ kind: "value", value: "feature-1" });
    expect(error(branch.parse("Feature"))).toBe(
      'demo branch must match the pattern ^[a-z][a-z0-9-]*$; "Feature" does not.',
    );
  });

  it("a pattern only Python's regex reads is left to the server", () => {
    const python = { type: "string", pattern: "(?P<name>x)" };
    expect(check(python, "anything", "field")).toBeUndefined();
  });

  it("null passes only where the schema allows it", () => {
    const query = command("audit.query").schema;
    const since = query.properties?.since ?? {};
    expect(check(since, null, "since", query)).toBeUndefined();
    expect(check({ type: "integer" }, null, "limit")).toBe(
      "limit may not be empty (null): type a whole number.",
    );
  });

  it("enums reached through $ref are checked against the whole schema", () => {
    const query = command("audit.query").schema;
    const source = query.properties?.source ?? {};
    expect(check(source, "cli", "source", query)).toBeUndefined();
    expect(check(source, "email", "source", query)).toBe(
      'source must be one of "cli", "lsp", "slack", "discord", "pipeline", "plugin", "system"; got "email".',
    );
  });

  it("a command without arguments has no steps", () => {
    expect(steps("git.status")).toEqual([]);
    expect(steps("pipeline.list")).toEqual([]);
  });
});
