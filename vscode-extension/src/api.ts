/**
 * What the extension's parts share: the shapes of the server's answers and the client
 * interface the palette commands and views use. The server is the authority on every
 * action; these types only describe what it sends (see lsp_server/features/commands.py).
 * This module imports only types from vscode, so the pure modules may use it in tests.
 */
import type * as vscode from "vscode";

export type Risk = "read" | "write" | "danger";

/** A JSON Schema, as pydantic writes it for a command's arguments. */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  additionalProperties?: boolean | JsonSchema;
}

/** One entry of `logomesh.commands`: a command this user may run. */
export interface ServerCommand {
  name: string;
  lsp_command: string;
  summary: string;
  permission: string;
  risk: Risk;
  examples: string[];
  schema: JsonSchema;
}

/** A command's result, as `CommandResult.to_dict()` sends it. */
export interface CommandResultJson {
  command: string;
  ok: boolean;
  outcome: string;
  data: unknown;
  message: string;
  error: { code: string; message: string } | null;
  /** The audit record's id (a hex string, as `CommandResult.to_dict()` sends it). */
  audit_id: string | null;
  correlation_id: string;
  duration_ms: number;
  warnings: string[];
}

/** A failed request: the JSON-RPC error's message and its `data`. */
export interface CommandFailure {
  message: string;
  /** The engine's error code (`command.denied`, `approval.declined`, ...). */
  code: string;
  /** The whole result, when the command ran and failed. */
  result?: CommandResultJson;
}

export type ServerState =
  | { kind: "starting" }
  | { kind: "ready" }
  | { kind: "stopped" }
  | { kind: "error"; reason: string };

/** `logomesh/engineReady`: what a workspace folder's engine was built with. */
export interface EngineInfo {
  folder: string;
  mode: "local" | "team";
  trusted: boolean;
  restricted: boolean;
  user: string;
  notices: string[];
}

/** `logomesh/engineFailed`: a folder's engine could not be built (the message says why). */
export interface EngineFailure {
  folder: string;
  message: string;
}

/** `logomesh/approvalsChanged`. */
export interface ApprovalChange {
  ticketId: string;
  state: string;
  command: string;
  risk: Risk;
  requester: string;
}

/** What palette commands and views may ask of the running server. */
export interface LogoMeshClient {
  readonly state: ServerState;
  readonly onDidChangeState: vscode.Event<ServerState>;
  /** The latest engine of each folder, by folder URI. */
  readonly engines: ReadonlyMap<string, EngineInfo>;
  readonly onDidChangeEngine: vscode.Event<EngineInfo>;
  /** `logomesh/engineFailed`: the server runs, but this folder has no engine. */
  readonly onDidFailEngine: vscode.Event<EngineFailure>;
  readonly onDidChangeApprovals: vscode.Event<ApprovalChange>;
  readonly output: vscode.LogOutputChannel;
  /** `logomesh.commands` for the folder (the first folder when omitted). */
  commands(folder?: vscode.Uri): Promise<ServerCommand[]>;
  /**
   * Run `logomesh.<command>` (or one of the server's own names: pass the full LSP name).
   * Resolves with the result; rejects with a `CommandError` holding a `CommandFailure`.
   * Two answers are not a `CommandResultJson`, and must resolve too (results.ts reads them
   * with type guards): `logomesh.do`'s outcome (TextOutcome.to_dict(): the proposal, the
   * decision and `result`, no top-level `ok`), and a command waiting on an approval ticket
   * (`outcome: "pending"`, `ticket`, lsp_server/running.py pending_answer).
   */
  execute(
    lspCommand: string,
    args: Record<string, unknown>,
    folder?: vscode.Uri,
    token?: vscode.CancellationToken,
  ): Promise<CommandResultJson>;
}

/** A failed command, as thrown by `LogoMeshClient.execute`. */
export class CommandError extends Error {
  constructor(readonly failure: CommandFailure) {
    super(failure.message);
    this.name = "CommandError";
  }
}
