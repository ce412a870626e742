/**
 * The server's own notifications (`logomesh/engineReady`, `engineFailed`,
 * `approvalsChanged`: docs/editors.md), checked and turned into the client's events.
 * A notification of an unknown shape is logged and dropped, never half-applied.
 */
import * as vscode from "vscode";

import type { ApprovalChange, EngineFailure, EngineInfo } from "./api";
import { parseApprovalChange, parseEngineFailure, parseEngineInfo } from "./protocol";

export class ServerEvents implements vscode.Disposable {
  private readonly engineMap = new Map<string, EngineInfo>();
  private readonly engineEmitter = new vscode.EventEmitter<EngineInfo>();
  private readonly failureEmitter = new vscode.EventEmitter<EngineFailure>();
  private readonly approvalsEmitter = new vscode.EventEmitter<ApprovalChange>();

  readonly onDidChangeEngine = this.engineEmitter.event;
  readonly onDidFailEngine = this.failureEmitter.event;
  readonly onDidChangeApprovals = this.approvalsEmitter.event;

  constructor(private readonly output: vscode.LogOutputChannel) {}

  /** The latest engine of each folder, by folder URI. */
  get engines(): ReadonlyMap<string, EngineInfo> {
    return this.engineMap;
  }

  /** A server that stopped has no engines until the next one reports them. */
  forgetEngines(): void {
    this.engineMap.clear();
  }

  handle(method: string, params: unknown): void {
    const unknownShape = () =>
      this.output.warn(`${method} of an unknown shape: ${JSON.stringify(params)}`);
    if (method === "logomesh/engineReady") {
      const engine = parseEngineInfo(params);
      if (engine === undefined) return unknownShape();
      this.output.info(
        `Engine ready for ${engine.folder}: mode ${engine.mode}, user ${engine.user}` +
          `${engine.trusted ? "" : ", untrusted"}${engine.restricted ? ", Restricted Mode" : ""}.`,
      );
      this.engineMap.set(engine.folder, engine);
      this.engineEmitter.fire(engine);
    } else if (method === "logomesh/engineFailed") {
      const failure = parseEngineFailure(params);
      if (failure === undefined) return unknownShape();
      this.output.error(`The engine for ${failure.folder} could not be built: ${failure.message}`);
      this.engineMap.delete(failure.folder);
      this.failureEmitter.fire(failure);
    } else if (method === "logomesh/approvalsChanged") {
      const change = parseApprovalChange(params);
      if (change === undefined) return unknownShape();
      this.approvalsEmitter.fire(change);
    }
  }

  dispose(): void {
    this.engineEmitter.dispose();
    this.failureEmitter.dispose();
    this.approvalsEmitter.dispose();
  }
}
