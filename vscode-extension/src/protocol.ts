/**
 * The server's JSON, checked at the boundary: the notifications the server sends
 * (`logomesh/engineReady`, `logomesh/engineFailed`, `logomesh/approvalsChanged`), the
 * `logomesh.commands` list, failures of `workspace/executeCommand`, and the settings the
 * extension sends (initializationOptions and the answer to `workspace/configuration`).
 *
 * Pure: small type guards instead of casts, so a server of another version gives a logged
 * "unexpected" instead of an `undefined` deep inside a view.
 */
import type {
  ApprovalChange,
  CommandFailure,
  CommandResultJson,
  EngineFailure,
  EngineInfo,
  Risk,
  ServerCommand,
} from "./api";
import type { Mode } from "./settings";

type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const RISKS: readonly string[] = ["read", "write", "danger"];

function isRisk(value: unknown): value is Risk {
  return typeof value === "string" && RISKS.includes(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

export function parseEngineInfo(value: unknown): EngineInfo | undefined {
  if (!isObject(value)) return undefined;
  const { folder, mode, trusted, restricted, user, notices } = value;
  if (
    typeof folder !== "string" ||
    typeof mode !== "string" ||
    typeof trusted !== "boolean" ||
    typeof restricted !== "boolean" ||
    typeof user !== "string"
  ) {
    return undefined;
  }
  return {
    folder,
    mode: mode as EngineInfo["mode"],
    trusted,
    restricted,
    user,
    notices: isStringArray(notices) ? notices : [],
  };
}

export function parseEngineFailure(value: unknown): EngineFailure | undefined {
  if (!isObject(value)) return undefined;
  const { folder, message } = value;
  if (typeof folder !== "string" || typeof message !== "string") return undefined;
  return { folder, message };
}

export function parseApprovalChange(value: unknown): ApprovalChange | undefined {
  if (!isObject(value)) return undefined;
  const { ticketId, state, command, risk, requester } = value;
  if (
    typeof ticketId !== "string" ||
    typeof state !== "string" ||
    typeof command !== "string" ||
    !isRisk(risk) ||
    typeof requester !== "string"
  ) {
    return undefined;
  }
  return { ticketId, state, command, risk, requester };
}

export function parseServerCommand(value: unknown): ServerCommand | undefined {
  if (!isObject(value)) return undefined;
  const { name, lsp_command, summary, permission, risk, examples, schema } = value;
  if (
    typeof name !== "string" ||
    typeof lsp_command !== "string" ||
    typeof summary !== "string" ||
    typeof permission !== "string" ||
    !isRisk(risk) ||
    !isObject(schema)
  ) {
    return undefined;
  }
  return {
    name,
    lsp_command,
    summary,
    permission,
    risk,
    examples: isStringArray(examples) ? examples : [],
    schema,
  };
}

/** A command's answer: the engine's CommandResult, or (`logomesh.do`) the text's outcome. */
export function isCommandResult(value: unknown): value is CommandResultJson {
  return isObject(value) && typeof value.ok === "boolean" && typeof value.message === "string";
}

/** JSON-RPC error codes the client library uses for requests that never got an answer. */
const REQUEST_CANCELLED = -32800;
/** The client is not running (ConnectionInactive). */
const CONNECTION_INACTIVE = -32099;
/** The server went away with the request unanswered: it crashed, or was stopped. */
const PENDING_RESPONSE_REJECTED = -32097;

/**
 * A JSON-RPC error as the extension's CommandFailure: the engine's code from `data.code`
 * (docs/editors.md), else a code saying what happened to the request.
 */
export function toFailure(code: number, message: string, data: unknown): CommandFailure {
  const failure: CommandFailure = { message, code: failureCode(code) };
  if (isObject(data)) {
    if (typeof data.code === "string") failure.code = data.code;
    if (isCommandResult(data.result)) failure.result = data.result;
  }
  return failure;
}

function failureCode(code: number): string {
  if (code === REQUEST_CANCELLED) return "lsp.cancelled";
  if (code === CONNECTION_INACTIVE || code === PENDING_RESPONSE_REJECTED) {
    return "server.unavailable";
  }
  return "lsp.error";
}

/** The ids of the pending tickets in `logomesh.approvals.list`'s data; undefined: not a list. */
export function pendingTicketIds(data: unknown): string[] | undefined {
  if (!Array.isArray(data)) return undefined;
  return data
    .filter((ticket): ticket is Json => isObject(ticket) && ticket.state === "pending")
    .map((ticket) => ticket.id)
    .filter((id): id is string => typeof id === "string");
}

/**
 * What the server is told (initializationOptions, and the `logomesh` section of
 * `workspace/configuration`): only keys the server knows (lsp_server/options.py), since it
 * warns about any other. VS Code's own settings (`path`, `interpreter`) are not its business.
 */
export interface ServerOptions {
  mode?: Mode;
  trusted: boolean;
  showResults: false;
  notifications: true;
}

export function serverOptions(mode: Mode | undefined, trusted: boolean): ServerOptions {
  const options: ServerOptions = { trusted, showResults: false, notifications: true };
  if (mode !== undefined) options.mode = mode;
  return options;
}
