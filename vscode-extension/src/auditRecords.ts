/**
 * Audit records as the server sends them (`audit.query`, `audit.search`), and how one is
 * shown: a Recent Activity item, an audit search result, and what it names that can be
 * opened (a file of the workspace, a command to run again).
 *
 * A record's arguments are redacted by the engine before they are stored, so running a
 * record's command again never reuses a redacted value: it starts the argument steps from
 * the record's values with those left for the person to type. Pure: no vscode import.
 */

/** The fields of an audit record this extension reads (the server sends more). */
export interface AuditRecord {
  id: string;
  seq: number | null;
  timestamp: string;
  actor: string;
  source: string;
  action: string;
  target: string | null;
  arguments: Record<string, unknown>;
  outcome: string;
  error: string | null;
  correlation_id: string | null;
  details: Record<string, unknown>;
  /** `audit.search` only: how close the record is to the words (higher is closer). */
  score?: number;
  /** Everything the server sent (hashes, timings, tokens), for the record's details. */
  raw: Record<string, unknown>;
}

export const REDACTED = "[REDACTED]";

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

/** One record from the server's JSON (or a record parsed before: a tree item's command
 * argument), or undefined when it lacks what is shown. */
export function parseRecord(given: unknown): AuditRecord | undefined {
  const value = isObject(given) && isObject(given.raw) ? given.raw : given;
  if (!isObject(value) || typeof value.id !== "string" || typeof value.action !== "string") {
    return undefined;
  }
  return {
    id: value.id,
    seq: typeof value.seq === "number" ? value.seq : null,
    timestamp: text(value.timestamp) ?? "",
    actor: text(value.actor) ?? "",
    source: text(value.source) ?? "",
    action: value.action,
    target: text(value.target),
    arguments: isObject(value.arguments) ? value.arguments : {},
    outcome: text(value.outcome) ?? "",
    error: text(value.error),
    correlation_id: text(value.correlation_id),
    details: isObject(value.details) ? value.details : {},
    score: typeof value.score === "number" ? value.score : undefined,
    raw: value,
  };
}

/** The records of an `audit.query`/`audit.search` result's `data` (a list). */
export function parseRecords(data: unknown): AuditRecord[] {
  return Array.isArray(data) ? data.map(parseRecord).filter((record) => record !== undefined) : [];
}

/** "just now", "4 min ago", "3 h ago", "2 d ago", then the date: how long ago, at a glance. */
export function ago(timestamp: string, now: Date): string {
  const then = Date.parse(timestamp);
  if (Number.isNaN(then)) {
    return timestamp;
  }
  const seconds = Math.max(0, Math.round((now.getTime() - then) / 1000));
  if (seconds < 60) {
    return "just now";
  }
  if (seconds < 3600) {
    return `${Math.floor(seconds / 60)} min ago`;
  }
  if (seconds < 86400) {
    return `${Math.floor(seconds / 3600)} h ago`;
  }
  if (seconds < 7 * 86400) {
    return `${Math.floor(seconds / 86400)} d ago`;
  }
  return timestamp.slice(0, 10);
}

/** A codicon per outcome, so a refusal stands out in a list of successes. */
export function outcomeIcon(outcome: string): string {
  switch (outcome) {
    case "ok":
      return "pass";
    case "denied":
      return "shield";
    case "error":
      return "error";
    case "cancelled":
      return "circle-slash";
    case "started":
      return "loading~spin";
    default:
      return "circle-outline";
  }
}

/** The file a record is about: a `path` or `file` argument (or its pipeline's file). */
export function namedFile(record: AuditRecord): string | undefined {
  for (const value of [record.arguments.path, record.arguments.file, record.details.file]) {
    if (typeof value === "string" && value !== "" && !value.includes(REDACTED)) {
      return value;
    }
  }
  return undefined;
}

/** The command a record ran, when it is one this user may run now (`approval.declined`
 * and the like are the engine's own actions, not commands). */
export function namedCommand(
  record: AuditRecord,
  runnable: ReadonlySet<string>,
): string | undefined {
  return runnable.has(record.action) ? record.action : undefined;
}

/** The record's arguments to start a new run from: redacted values and nulls left out. */
export function startValues(record: AuditRecord): Record<string, unknown> {
  const start: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record.arguments)) {
    if (value !== null && !JSON.stringify(value).includes(REDACTED)) {
      start[key] = value;
    }
  }
  return start;
}

/**
 * Whether `record` is one of the extension's own listings, which sent `sent` to `action`
 * (a view's refresh, the status bar's count): left out of Recent Activity, which they
 * would otherwise fill with its own refreshes. Any `limit` matches, since the views and
 * the status bar ask for different numbers; every other argument must be as sent, or
 * unset (null, false).
 */
export function isOwnListing(
  record: AuditRecord,
  action: string,
  sent: Record<string, unknown>,
): boolean {
  if (record.action !== action) {
    return false;
  }
  return Object.entries(record.arguments).every(([key, value]) => {
    if (key === "limit") {
      return true;
    }
    return key in sent
      ? JSON.stringify(sent[key]) === JSON.stringify(value)
      : value === null || value === false;
  });
}

/** `key=value` pairs, for one-line summaries of arguments. */
export function argumentsLine(args: Record<string, unknown>): string {
  return Object.entries(args)
    .filter(([, value]) => value !== null && value !== undefined)
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" ");
}

export interface ActivityFields {
  label: string;
  description: string;
  tooltip: string;
  icon: string;
}

/** A Recent Activity item: the action, how it ended and when. */
export function activityFields(record: AuditRecord, now: Date): ActivityFields {
  const when = ago(record.timestamp, now);
  const lines = [`${record.action}: ${record.outcome}, ${record.timestamp} (${record.source})`];
  const args = argumentsLine(record.arguments);
  if (args !== "") {
    lines.push(args);
  }
  if (record.error !== null) {
    lines.push(record.error);
  }
  return {
    label: record.action,
    description: `${record.outcome} · ${when}`,
    tooltip: lines.join("\n"),
    icon: outcomeIcon(record.outcome),
  };
}

export interface SearchItemFields {
  label: string;
  description: string;
  detail: string;
}

/** An audit search result: action and outcome first, then who, when and from where. */
export function searchItemFields(record: AuditRecord, now: Date): SearchItemFields {
  const score = record.score === undefined ? "" : ` · match ${record.score.toFixed(2)}`;
  const detail = [argumentsLine(record.arguments), record.error ?? ""]
    .filter((part) => part !== "")
    .join(" · ");
  return {
    label: `$(${outcomeIcon(record.outcome)}) ${record.action}`,
    description: `${record.outcome} · ${record.actor} · ${ago(record.timestamp, now)} (${record.source})${score}`,
    detail,
  };
}
