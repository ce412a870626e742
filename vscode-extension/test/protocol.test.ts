import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

import {
  parseApprovalChange,
  parseEngineFailure,
  parseEngineInfo,
  parseServerCommand,
  pendingTicketIds,
  serverOptions,
  toFailure,
} from "../src/protocol";

describe("toFailure", () => {
  it("takes the engine's code and result from the JSON-RPC error's data", () => {
    const result = { command: "git.push", ok: false, message: "Cancelled.", outcome: "cancelled" };
    expect(
      toFailure(-32803, "LogoMesh: git.push was cancelled.", { code: "command.cancelled", result }),
    ).toEqual({
      message: "LogoMesh: git.push was cancelled.",
      code: "command.cancelled",
      result,
    });
  });

  it("says what happened to a request with no engine code", () => {
    expect(toFailure(-32800, "Request cancelled", null)).toEqual({
      message: "Request cancelled",
      code: "lsp.cancelled",
    });
    expect(toFailure(-32603, "boom", "text").code).toBe("lsp.error");
    expect(toFailure(-32099, "Client is not running", undefined).code).toBe("server.unavailable");
    const gone = "Pending response rejected since connection got disposed";
    expect(toFailure(-32097, gone, undefined).code).toBe("server.unavailable");
  });

  it("leaves out a result that is not one", () => {
    expect(toFailure(-32803, "x", { code: "a.b", result: [1] })).toEqual({
      message: "x",
      code: "a.b",
    });
  });
});

describe("notifications", () => {
  it("reads logomesh/engineReady and refuses another shape", () => {
    const ready = {
      folder: "file:///p",
      mode: "team",
      trusted: false,
      restricted: true,
      user: "ada",
      notices: ["n"],
    };
    expect(parseEngineInfo(ready)).toEqual(ready);
    expect(parseEngineInfo({ ...ready, notices: undefined })?.notices).toEqual([]);
    expect(parseEngineInfo({ ...ready, trusted: "yes" })).toBeUndefined();
    expect(parseEngineInfo(null)).toBeUndefined();
  });

  it("reads logomesh/engineFailed and logomesh/approvalsChanged", () => {
    expect(parseEngineFailure({ folder: "file:///p", message: "bad" })).toEqual({
      folder: "file:///p",
      message: "bad",
    });
    expect(parseEngineFailure({ folder: 1 })).toBeUndefined();
    const change = {
      ticketId: "t",
      state: "pending",
      command: "git.push",
      risk: "danger",
      requester: "ada",
    };
    expect(parseApprovalChange(change)).toEqual(change);
    expect(parseApprovalChange({ ...change, risk: "extreme" })).toBeUndefined();
  });
});

describe("logomesh.commands entries", () => {
  it("keeps the fields the palette needs", () => {
    const entry = {
      name: "git.log",
      lsp_command: "logomesh.git.log",
      summary: "Show commits",
      permission: "git.read",
      risk: "read",
      examples: ["show the last commits"],
      schema: { type: "object", properties: { count: { type: "integer", default: 10 } } },
      extra: "ignored",
    };
    expect(parseServerCommand(entry)).toEqual({ ...entry, extra: undefined });
    expect(parseServerCommand({ ...entry, schema: "nope" })).toBeUndefined();
  });
});

describe("pendingTicketIds", () => {
  it("takes the pending tickets of approvals.list", () => {
    expect(
      pendingTicketIds([{ id: "a", state: "pending" }, { id: "b", state: "approved" }, "junk"]),
    ).toEqual(["a"]);
    expect(pendingTicketIds({ not: "a list" })).toBeUndefined();
  });
});

describe("serverOptions", () => {
  it("sends the trust decision and turns the server's own result messages off", () => {
    expect(serverOptions(undefined, false)).toEqual({
      trusted: false,
      showResults: false,
      notifications: true,
    });
    expect(serverOptions("team", true)).toEqual({
      mode: "team",
      trusted: true,
      showResults: false,
      notifications: true,
    });
  });

  // The server warns about every key it does not know (lsp_server/options.py): the
  // extension sends only known ones. `notifications` is helper SERVER's addition.
  const options = path.resolve(__dirname, "..", "..", "lsp_server", "options.py");
  const known = existsSync(options) ? knownKeys(readFileSync(options, "utf8")) : [];
  it.skipIf(!known.includes("notifications"))("sends only keys the server knows", () => {
    expect(known.length).toBeGreaterThan(5);
    for (const key of Object.keys(serverOptions("local", true))) expect(known).toContain(key);
  });
});

function knownKeys(source: string): string[] {
  const block = /KNOWN_KEYS = \(([^)]*)\)/.exec(source)?.[1] ?? "";
  return [...block.matchAll(/"(\w+)"/g)].map((match) => match[1] ?? "");
}
