/**
 * Tree items and quick-pick items from real `approvals.list`, `audit.query` and
 * `audit.search` answers (test/fixtures/answers.json, printed by `logomesh run ... --json`).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import type { CommandResultJson } from "../src/api";
import {
  activityFields,
  ago,
  isOwnListing,
  namedCommand,
  namedFile,
  parseRecord,
  parseRecords,
  searchItemFields,
  startValues,
  type AuditRecord,
} from "../src/auditRecords";
import { PENDING_CONTEXT, pendingTickets, ticketFields } from "../src/tickets";

const answers = JSON.parse(
  readFileSync(join(__dirname, "fixtures", "answers.json"), "utf8"),
) as Record<string, CommandResultJson>;

function data(name: string): unknown {
  const found = answers[name];
  if (found === undefined) {
    throw new Error(`no ${name} in the fixture`);
  }
  return found.data;
}

function record(overrides: Partial<AuditRecord>): AuditRecord {
  const base = parseRecords(data("audit.query"))[0];
  if (base === undefined) {
    throw new Error("no record in the fixture");
  }
  return { ...base, ...overrides };
}

describe("approval tickets", () => {
  it("a pending ticket: command, requester and risk, with the inline buttons", () => {
    const [ticket] = pendingTickets(data("approvals.list pending"));
    expect(ticket).toBeDefined();
    const fields = ticketFields(ticket!);
    expect(fields).toMatchObject({
      label: "git.push",
      description: "root · danger",
      contextValue: PENDING_CONTEXT,
      icon: "warning",
    });
    expect(PENDING_CONTEXT).toBe("pendingTicket");
    const lines = fields.tooltip.split("\n");
    expect(lines[0]).toBe("git.push (danger risk), asked by root (cli)");
    expect(lines[1]).toBe("arguments: force=false remote=origin");
    expect(lines[2]).toMatch(/^expires 2026-\d\d-\d\dT/);
    expect(lines[3]).toBe(`ticket ${ticket!.id}`);
  });

  it("only pending tickets are listed, and broken entries are skipped", () => {
    const [ticket] = pendingTickets(data("approvals.list pending"));
    const decided = { ...ticket, state: "declined" };
    expect(pendingTickets([decided, { nonsense: true }, "x", ticket])).toEqual([ticket]);
    expect(pendingTickets(null)).toEqual([]);
  });

  it("the two-person rule is said in the tooltip", () => {
    const [ticket] = pendingTickets(data("approvals.list pending"));
    const fields = ticketFields({ ...ticket!, separate_approver: true, requester: "alice" });
    expect(fields.tooltip).toContain("needs an approver other than alice (the two-person rule)");
  });

  it("a ticket that is not pending gets no buttons", () => {
    const [ticket] = pendingTickets(data("approvals.list pending"));
    expect(ticketFields({ ...ticket!, state: "approved" }).contextValue).toBe("ticket");
  });
});

describe("recent activity", () => {
  const now = new Date("2026-12-02T00:30:00Z");

  it("records are parsed in the server's order (newest first)", () => {
    const records = parseRecords(data("audit.query"));
    expect(records.map((entry) => entry.action)).toEqual([
      "git.push",
      "approvals.decline",
      "approval.declined",
      "approvals.list",
      "approval.requested",
    ]);
    expect(records.map((entry) => entry.seq)).toEqual(
      [...records.map((entry) => entry.seq)].sort((a, b) => (b ?? 0) - (a ?? 0)),
    );
  });

  it("an item: the action, its outcome and how long ago, the error in the tooltip", () => {
    const pushed = record({ timestamp: "2026-12-02T00:26:30Z" });
    const fields = activityFields(pushed, now);
    expect(fields).toMatchObject({
      label: "git.push",
      description: "cancelled · 3 min ago",
      icon: "circle-slash",
    });
    expect(fields.tooltip).toContain("force=false remote=origin");
    expect(fields.tooltip).toMatch(/\[command\.cancelled\] git\.push was declined by root/);
  });

  it("how long ago", () => {
    expect(ago("2026-12-02T00:29:40Z", now)).toBe("just now");
    expect(ago("2026-12-01T21:00:00Z", now)).toBe("3 h ago");
    expect(ago("2026-11-29T00:00:00Z", now)).toBe("3 d ago");
    expect(ago("2026-10-01T00:00:00Z", now)).toBe("2026-10-01");
    expect(ago("not a time", now)).toBe("not a time");
  });

  it("the views' own listings are recognised by their exact arguments", () => {
    const listing = record({
      action: "audit.query",
      arguments: { actor: "root", limit: 50, action: null, payloads: false, since: null },
    });
    expect(isOwnListing(listing, "audit.query", { actor: "root", limit: 50 })).toBe(true);
    expect(
      isOwnListing(
        { ...listing, arguments: { ...listing.arguments, action: "git.*" } },
        "audit.query",
        { actor: "root", limit: 50 },
      ),
    ).toBe(false);
    expect(
      isOwnListing(
        { ...listing, arguments: { ...listing.arguments, limit: 1000 } },
        "audit.query",
        { actor: "root", limit: 50 },
      ),
    ).toBe(true);
    expect(
      isOwnListing(
        { ...listing, arguments: { ...listing.arguments, actor: "alice" } },
        "audit.query",
        { actor: "root", limit: 50 },
      ),
    ).toBe(false);
    expect(isOwnListing(listing, "approvals.list", { actor: "root", limit: 50 })).toBe(false);
  });

  it("a record keeps everything the server sent, and parses again to itself", () => {
    const [first] = parseRecords(data("audit.query"));
    expect(first?.raw).toEqual((data("audit.query") as unknown[])[0]);
    expect(first?.raw.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(parseRecord(first)).toEqual(first);
  });

  it("a malformed record is skipped, not shown half-empty", () => {
    expect(parseRecord({ action: "x" })).toBeUndefined();
    expect(parseRecords([{ id: "1", action: "git.log" }, 3])).toHaveLength(1);
  });
});

describe("audit search results", () => {
  const now = new Date("2026-12-02T00:30:00Z");

  it("best match first, with action, outcome, actor, time and score", () => {
    const records = parseRecords(data("audit.search"));
    expect(records.map((entry) => entry.action)).toEqual([
      "git.push",
      "approval.declined",
      "approval.decide",
    ]);
    const fields = searchItemFields({ ...records[0]!, timestamp: "2026-12-01T22:00:00Z" }, now);
    expect(fields.label).toBe("$(circle-slash) git.push");
    expect(fields.description).toBe("cancelled · root · 2 h ago (cli) · match 0.60");
    expect(fields.detail).toMatch(/^force=false remote=origin · \[command\.cancelled\]/);
  });

  it("what a record names: a command this user may run again, a file", () => {
    const [pushed, declined] = parseRecords(data("audit.search"));
    const runnable = new Set(["git.push", "files.read"]);
    expect(namedCommand(pushed!, runnable)).toBe("git.push");
    expect(namedCommand(declined!, runnable)).toBeUndefined();
    expect(namedFile(pushed!)).toBeUndefined();
    expect(namedFile(record({ action: "files.read", arguments: { path: "src/app.py" } }))).toBe(
      "src/app.py",
    );
    expect(
      namedFile(
        record({ action: "pipeline.ci", arguments: {}, details: { file: "pipelines/ci.yaml" } }),
      ),
    ).toBe("pipelines/ci.yaml");
  });

  it("running again starts from the record's arguments, redacted ones left to type", () => {
    const secret = record({
      action: "db.restore",
      arguments: { path: "b.sqlite", token: "[REDACTED]", note: "x [REDACTED] y", branch: null },
    });
    expect(startValues(secret)).toEqual({ path: "b.sqlite" });
    expect(namedFile(record({ arguments: { path: "[REDACTED]" } }))).toBeUndefined();
  });
});
