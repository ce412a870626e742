/**
 * What the person sees of a command's answer: one notification line with a severity, and
 * the full details for the read-only document "Show details" opens.
 *
 * The server answers in three shapes: a command's result (`CommandResult.to_dict()`), the
 * *pending* answer of a command waiting on its approval ticket, and `logomesh.do`'s outcome
 * (the interpretation, the decision, and the result when something ran). A failure is a
 * `CommandFailure`. Everything arrives as JSON, so it is read with type guards, never cast.
 * Pure: no vscode import.
 */
import { CommandError, type CommandFailure, type CommandResultJson } from "./api";
import { shouldNotify, type NotificationLevel, type Severity } from "./settings";

/** `logomesh.showNotifications`, as src/settings.ts reads it. */
export type NotifySetting = NotificationLevel;
export type { Severity };

/** What a notification may offer besides "Show details". */
export type Action = "trust" | "approvals" | "output" | "restart";

export interface Details {
  /** The document's name: "git.diff 01a23….diff". */
  title: string;
  language: "json" | "plaintext" | "diff";
  text: string;
}

export interface Shown {
  severity: Severity;
  /** One line: "LogoMesh git.log: 3 commits." */
  text: string;
  /** Whether `logomesh.showNotifications` lets this severity be a notification. */
  notify: boolean;
  actions: Action[];
  details: Details;
  /** The engine's error code, for a failure. */
  code?: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function isCommandResult(value: unknown): value is CommandResultJson {
  return (
    isObject(value) &&
    typeof value.command === "string" &&
    typeof value.ok === "boolean" &&
    typeof value.outcome === "string" &&
    "data" in value
  );
}

/** The answer of a command that waits for someone's decision on its ticket. */
export interface PendingAnswer {
  command: string;
  outcome: "pending";
  message: string;
  ticket: { id: string; command: string; risk: string; requester: string; expires_at: string };
}

export function isPending(value: unknown): value is PendingAnswer {
  return (
    isObject(value) &&
    value.outcome === "pending" &&
    isObject(value.ticket) &&
    typeof value.ticket.id === "string"
  );
}

/** `logomesh.do`'s answer (TextOutcome.to_dict()). */
export interface DoOutcome {
  command: string | null;
  arguments: Record<string, unknown>;
  decision: string | null;
  message: string;
  /** `nl.interpret`'s own result: not ok when the words could not be interpreted at all. */
  interpretation: unknown;
  result: CommandResultJson | null;
}

export function isDoOutcome(value: unknown): value is DoOutcome {
  return (
    isObject(value) &&
    "interpretation" in value &&
    typeof value.message === "string" &&
    "decision" in value
  );
}

/** The first line of a message, or the fallback when it has none. */
export function firstLine(message: unknown, fallback: string): string {
  const text = typeof message === "string" ? message.trim() : "";
  return text === "" ? fallback : (text.split(/\r?\n/, 1)[0] ?? fallback);
}

/** Any answer of `client.execute` -> what to show. */
export function showAnswer(answer: unknown, setting: NotifySetting, asked: string): Shown {
  if (isPending(answer)) {
    return make(
      "warning",
      firstLine(answer.message, `LogoMesh ${answer.command}: waits for approval.`),
      setting,
      json(`${answer.command} pending`, answer),
      ["approvals"],
    );
  }
  if (isDoOutcome(answer)) {
    return showDo(answer, setting);
  }
  if (isCommandResult(answer)) {
    return showResult(answer, setting);
  }
  return make(
    "info",
    `LogoMesh ${engineName(asked)}: done.`,
    setting,
    json(engineName(asked), answer),
  );
}

/** `logomesh.git.log` -> `git.log`: the name people know the command by. */
export function engineName(lspCommand: string): string {
  return lspCommand.startsWith("logomesh.") ? lspCommand.slice("logomesh.".length) : lspCommand;
}

export function showResult(result: CommandResultJson, setting: NotifySetting): Shown {
  const line = `LogoMesh ${result.command}: ${firstLine(result.message, result.outcome)}`;
  const details = detailsOf(result);
  if (!result.ok) {
    const code = result.error?.code;
    if (code === "command.cancelled") {
      return declined(result.command, result.message, setting, details);
    }
    return { ...make("error", line, setting, details, actionsFor(code)), code };
  }
  const warnings = Array.isArray(result.warnings) ? result.warnings : [];
  if (warnings.length > 0) {
    const first = firstLine(warnings[0], "");
    return make(
      "warning",
      `${line} (${warnings.length} warning${warnings.length === 1 ? "" : "s"}: ${first})`,
      setting,
      details,
      ["output"],
    );
  }
  return make("info", line, setting, details);
}

function showDo(outcome: DoOutcome, setting: NotifySetting): Shown {
  const said = firstLine(outcome.message, "");
  const result = outcome.result;
  if (isCommandResult(outcome.interpretation) && !outcome.interpretation.ok) {
    // The interpretation itself failed (no model, a crash): an error, with its reason.
    return showResult(outcome.interpretation, setting);
  }
  if (result === null || !isCommandResult(result)) {
    // Nothing ran: LogoMesh asks back (no confident match, or arguments missing).
    const severity = outcome.decision === "ask" || outcome.command === null ? "warning" : "info";
    return make(severity, `LogoMesh: ${said || "nothing to run."}`, setting, json("do", outcome));
  }
  const shown = showResult(result, setting);
  if (shown.code === "command.cancelled") {
    return { ...shown, text: `LogoMesh: Declined: nothing ran. ${said}`.trim() };
  }
  // How it went, then what the words were taken as (the server's "Running `git.status`
  // (read risk, 62% sure)."): the command's name stays first, as for Run Command.
  return { ...shown, text: `${shown.text} — ${said}` };
}

/** A rejected `client.execute` -> what to show. `asked` is the command that was run. */
export function showFailure(error: unknown, setting: NotifySetting, asked: string): Shown {
  const failure = failureOf(error);
  const command = failure.result?.command ?? engineName(asked);
  const details = json(`${command} failed`, failure);
  if (failure.code === "command.cancelled") {
    return declined(command, failure.message, setting, details);
  }
  const said = firstLine(
    failure.message,
    "failed without a message; the LogoMesh output has the server's log.",
  );
  // The client's own messages (server unavailable) already say "LogoMesh: git.log ...".
  const text = said.startsWith("LogoMesh") ? said : `LogoMesh ${command}: ${said}`;
  return { ...make("error", text, setting, details, actionsFor(failure.code)), code: failure.code };
}

/** A confirmation someone declined (at the prompt, or on the ticket): not an error, and
 * said plainly, since nothing ran. */
function declined(
  command: string,
  message: string,
  setting: NotifySetting,
  details: Details,
): Shown {
  const text = `LogoMesh ${command}: Declined: nothing ran. ${firstLine(message, "")}`.trim();
  return { ...make("warning", text, setting, details), code: "command.cancelled" };
}

/** A thrown value as the failure it holds; anything else (a transport error, a bug) as an
 * `internal` failure with its message. */
export function failureOf(error: unknown): CommandFailure {
  if (error instanceof CommandError) {
    return error.failure;
  }
  if (isObject(error) && isObject(error.failure) && typeof error.failure.message === "string") {
    return error.failure as unknown as CommandFailure;
  }
  const message = error instanceof Error ? error.message : String(error);
  return { message, code: "internal" };
}

/** Where the fix is one click away: trusting the folder, reading the server's log. */
function actionsFor(code: string | undefined): Action[] {
  if (code === "workspace.restricted") {
    return ["trust"];
  }
  if (code === "server.unavailable") {
    return ["restart", "output"];
  }
  if (code === "lsp.invalid_arguments" || code === "lsp.cancelled") {
    return [];
  }
  const prefix = code?.split(".", 1)[0];
  // The server's log says more: a crash inside it, a model or plugin that failed.
  if (code === "internal" || prefix === "llm" || prefix === "plugin" || prefix === "lsp") {
    return ["output"];
  }
  return [];
}

function make(
  severity: Severity,
  text: string,
  setting: NotifySetting,
  details: Details,
  actions: Action[] = [],
): Shown {
  return { severity, text, notify: shouldNotify(setting, severity), actions, details };
}

function json(title: string, value: unknown): Details {
  return { title: `${title}.json`, language: "json", text: JSON.stringify(value, null, 2) + "\n" };
}

/** The command's own output when its data holds one (a diff, a file's text, a model's
 * answer, a command's stdout); the whole result as JSON otherwise. */
export function detailsOf(result: CommandResultJson): Details {
  const name = `${result.command} ${result.correlation_id}`.trim();
  const data = result.data;
  if (isObject(data)) {
    for (const key of ["diff", "patch"]) {
      const text = data[key];
      if (typeof text === "string" && text.trim() !== "") {
        return { title: `${name}.diff`, language: "diff", text };
      }
    }
    for (const key of ["text", "output", "stdout"]) {
      const text = data[key];
      if (typeof text === "string" && text.trim() !== "") {
        return { title: `${name}.txt`, language: "plaintext", text };
      }
    }
  }
  return json(name, result);
}
