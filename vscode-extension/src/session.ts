/**
 * One run of the server: the process this module spawns (no shell, stdio pipes) and the
 * `LanguageClient` that talks to it.
 *
 * Spawning the process here, instead of letting the client library do it, is what lets
 * the extension say why a server stopped (its exit code and last stderr lines) and give it
 * time on stop to write its queued audit records. The library's own restarts and
 * notifications are off (`closed` never restarts, `QuietLanguageClient`): src/client.ts
 * decides, through the crash policy, and is the one voice the person hears.
 */
import * as cp from "node:child_process";
import * as os from "node:os";
import * as readline from "node:readline";
import * as vscode from "vscode";
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  RevealOutputChannelOn,
  ShowMessageNotification,
  State,
  type ShowMessageParams,
  type LanguageClientOptions,
  type ResponseError,
} from "vscode-languageclient/node";

import type { Launch } from "./discovery";
import type { ServerOptions } from "./protocol";
import { SECTION } from "./settings";

const STDERR_TAIL_LINES = 20;

/** What a session tells its owner. */
export interface SessionHooks {
  readonly output: vscode.LogOutputChannel;
  /** initializationOptions, and the answer for the `logomesh` configuration section. */
  serverOptions(): ServerOptions;
  /** The session ended without being stopped (called at most once per session). */
  ended(session: Session): void;
  /** A server -> client notification (`logomesh/...`), its params unchecked. */
  notification(method: string, params: unknown): void;
  /** `window/showMessage`: shown as `logomesh.showNotifications` says, always logged. */
  showMessage(params: ShowMessageParams): void;
}

export const NOTIFICATIONS = [
  "logomesh/engineReady",
  "logomesh/engineFailed",
  "logomesh/approvalsChanged",
] as const;

export class Session {
  readonly client: LanguageClient;
  child: cp.ChildProcess | undefined;
  readonly stderrTail: string[] = [];
  exit: { code: number | null; signal: string | null } | undefined;
  /** The extension is stopping it: its end is not a crash. */
  stopping = false;
  ended = false;
  /** Why it must not be restarted (it never finished starting). */
  fatal: string | undefined;
  /** What the client library or the spawn reported, if anything. */
  lastError: string | undefined;
  readonly timers: NodeJS.Timeout[] = [];
  private exitListeners: (() => void)[] = [];

  constructor(
    readonly launch: Launch,
    private readonly hooks: SessionHooks,
  ) {
    this.client = new QuietLanguageClient(SECTION, "LogoMesh", () => this.spawn(), this.options());
    this.client.onDidChangeState(({ newState }) => {
      if (newState === State.Stopped || newState === State.StartFailed) this.end();
    });
    for (const method of NOTIFICATIONS) {
      this.client.onNotification(method, (params: unknown) => hooks.notification(method, params));
    }
    // Replaces the library's own handler (installed first, at start).
    this.client.onNotification(ShowMessageNotification.type, (params) => hooks.showMessage(params));
  }

  /** Resolves true when the process has exited, false after `ms`. */
  waitForExit(ms: number): Promise<boolean> {
    if (this.exit !== undefined || this.child === undefined) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.exitListeners.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  clearTimers(): void {
    for (const timer of this.timers.splice(0)) clearTimeout(timer);
  }

  /** Reports the end once, unless the extension itself is stopping the session. */
  end(): void {
    if (this.ended || this.stopping) return;
    this.ended = true;
    this.clearTimers();
    this.hooks.ended(this);
  }

  /**
   * Stops it: `shutdown` and `exit` when it runs, then `graceMs` for the process to write
   * its last audit records and exit before it is sent SIGTERM. A server still starting has
   * nobody to say shutdown to, so it gets SIGTERM at once.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.clearTimers();
    const { output } = this.hooks;
    if (this.client.state === State.Running) {
      try {
        await this.client.stop(graceMs);
      } catch (error) {
        output.warn(`The server did not stop cleanly: ${String(error)}`);
      }
    } else if (this.exit === undefined) {
      this.child?.kill("SIGTERM");
    }
    if (!(await this.waitForExit(graceMs))) {
      output.warn(`The server did not exit within ${graceMs / 1000} s of shutdown; stopping it.`);
      this.child?.kill("SIGTERM");
    }
    await this.dispose();
  }

  async dispose(): Promise<void> {
    try {
      await this.client.dispose();
    } catch {
      // A client that never got running has nothing to dispose of.
    }
  }

  private options(): LanguageClientOptions {
    const { output } = this.hooks;
    return {
      // The server's code actions and diagnostics are for any file (docs/code-actions.md).
      documentSelector: [{ scheme: "file" }],
      outputChannel: output,
      traceOutputChannel: output,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: () => this.hooks.serverOptions(),
      initializationFailedHandler: (error: unknown) => {
        this.lastError = String(error);
        output.error(`The server did not initialize: ${String(error)}`);
        return false;
      },
      errorHandler: {
        // A few unreadable messages are survivable; a stream of them is a broken server.
        error: (_error, _message, count) =>
          count !== undefined && count <= 3
            ? { action: ErrorAction.Continue }
            : { action: ErrorAction.Shutdown, handled: true },
        closed: () => {
          this.end();
          return { action: CloseAction.DoNotRestart, handled: true };
        },
      },
      middleware: {
        workspace: {
          // The server asks for its section; VS Code's own settings (path, interpreter...)
          // are not its business, and it would warn about them as unknown keys.
          configuration: async (params, token, next) => {
            const answers: unknown = await next(params, token);
            if (!Array.isArray(answers)) return answers as ResponseError<void>;
            return params.items.map((item, index): unknown =>
              item.section === SECTION ? this.hooks.serverOptions() : answers[index],
            );
          },
        },
      },
      stdioOptions: {
        stdout: () => undefined, // the protocol itself (stdio transport)
        stderr: (input) => this.pipeStderr(input),
      },
    };
  }

  /** Spawns the server in the first workspace folder, with the editor's environment. */
  private spawn(): Promise<cp.ChildProcess> {
    const { program, args } = this.launch;
    const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? os.homedir();
    const child = cp.spawn(program, args, {
      cwd,
      env: process.env,
      stdio: "pipe",
      windowsHide: true,
    });
    this.child = child;
    child.on("exit", (code, signal) => {
      this.exit = { code, signal };
      for (const listener of this.exitListeners.splice(0)) listener();
    });
    return new Promise((resolve, reject) => {
      child.once("spawn", () => resolve(child));
      child.on("error", (error) => {
        this.hooks.output.error(`The server process ${program}: ${error.message}`);
        this.lastError = error.message;
        reject(error);
      });
    });
  }

  /** The server logs on stderr: into the output channel, and the tail kept for the reason. */
  private pipeStderr(input: NodeJS.ReadableStream): void {
    const lines = readline.createInterface({ input, crlfDelay: Infinity, terminal: false });
    lines.on("line", (line) => {
      this.hooks.output.warn(`[server] ${line}`);
      this.stderrTail.push(line);
      if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
    });
  }
}

/** The client library, minus its notifications: src/client.ts raises the ones people see. */
class QuietLanguageClient extends LanguageClient {
  override error(message: string, data?: unknown, _showNotification?: boolean | "force"): void {
    // The library would append an Error's stack: frames of the minified bundle, which
    // bury the server's own reason a few lines up. Its message says what failed.
    if (data instanceof Error) super.error(`${message} ${data.message}`, undefined, false);
    else super.error(message, data, false);
  }
}
