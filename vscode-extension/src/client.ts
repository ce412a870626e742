/**
 * The LogoMesh language server's lifecycle in VS Code, behind api.ts's `LogoMeshClient`:
 * discovery, start, the crash policy, restart, Workspace Trust and the settings the server
 * is told.
 *
 * Each start is a `Session`: one `LanguageClient` over one server process that this module
 * spawns itself (no shell), so it knows the process's exit code and its last stderr lines
 * and can say why a server stopped. A session that ends by itself is a crash: `CrashPolicy`
 * decides whether a new session starts (3 times in 3 minutes) or the client stops with
 * state `error` and one notification. The client library's own restarts and notifications
 * are turned off, so there is one voice and no loop. Requests made while a session starts
 * wait for it (`whenRunning`).
 */
import * as cp from "node:child_process";
import * as os from "node:os";
import * as readline from "node:readline";
import * as vscode from "vscode";
import {
  CloseAction,
  DidChangeConfigurationNotification,
  ErrorAction,
  ExecuteCommandRequest,
  LanguageClient,
  ResponseError,
  RevealOutputChannelOn,
  State,
  type LanguageClientOptions,
} from "vscode-languageclient/node";

import {
  CommandError,
  type ApprovalChange,
  type CommandResultJson,
  type EngineFailure,
  type EngineInfo,
  type LogoMeshClient,
  type ServerCommand,
  type ServerState,
} from "./api";
import { CrashPolicy, describeEnd } from "./crashPolicy";
import { describeLaunch, discover, failureMessage, type Launch } from "./discovery";
import { nodeProbes } from "./probes";
import { pythonEnvironment } from "./pythonExtension";
import {
  isCommandResult,
  parseApprovalChange,
  parseEngineFailure,
  parseEngineInfo,
  parseServerCommand,
  serverOptions,
  toFailure,
  type ServerOptions,
} from "./protocol";
import { readSettings, SECTION, shouldNotify, type Settings } from "./settings";

/** A slow start is logged after this long... */
const SLOW_START_MS = 20_000;
/** ...and given up after this long: a model loading on a busy machine takes minutes, not ten. */
const START_LIMIT_MS = 5 * 60_000;
/** On stop the server writes its queued audit records before it exits (docs/editors.md). */
const EXIT_GRACE_MS = 5_000;
const STDERR_TAIL_LINES = 20;

/** One server process and the LanguageClient talking to it. */
class Session {
  client!: LanguageClient;
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

  constructor(readonly launch: Launch) {}

  exited(code: number | null, signal: string | null): void {
    this.exit = { code, signal };
    for (const listener of this.exitListeners.splice(0)) listener();
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
}

/** The client library, minus its notifications: this module raises the ones people see. */
class QuietLanguageClient extends LanguageClient {
  override error(message: string, data?: unknown, _showNotification?: boolean | "force"): void {
    super.error(message, data, false);
  }
}

export class LogoMeshLanguageClient implements LogoMeshClient, vscode.Disposable {
  private currentState: ServerState = { kind: "stopped" };
  private session: Session | undefined;
  private readonly policy = new CrashPolicy();
  private readonly engineMap = new Map<string, EngineInfo>();
  private readonly stateEmitter = new vscode.EventEmitter<ServerState>();
  private readonly engineEmitter = new vscode.EventEmitter<EngineInfo>();
  private readonly failureEmitter = new vscode.EventEmitter<EngineFailure>();
  private readonly approvalsEmitter = new vscode.EventEmitter<ApprovalChange>();
  private readonly subscriptions: vscode.Disposable[] = [];
  /** Serialises start, stop and restart: the person may click Restart twice. */
  private lifecycle: Promise<void> = Promise.resolve();

  readonly onDidChangeState = this.stateEmitter.event;
  readonly onDidChangeEngine = this.engineEmitter.event;
  readonly onDidFailEngine = this.failureEmitter.event;
  readonly onDidChangeApprovals = this.approvalsEmitter.event;

  constructor(readonly output: vscode.LogOutputChannel) {
    this.subscriptions.push(
      this.stateEmitter,
      this.engineEmitter,
      this.failureEmitter,
      this.approvalsEmitter,
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        this.output.info("The workspace is trusted now: telling the server.");
        void this.sendConfiguration();
      }),
      vscode.workspace.onDidChangeConfiguration((event) => this.settingsChanged(event)),
    );
  }

  get state(): ServerState {
    return this.currentState;
  }

  get engines(): ReadonlyMap<string, EngineInfo> {
    return this.engineMap;
  }

  /** Finds the server and starts it; resolves once it runs or has failed. */
  start(): Promise<void> {
    return this.serialised(() => this.startNow());
  }

  /** LogoMesh: Restart Server: stop, then discover again (a fixed setting takes effect). */
  restart(): Promise<void> {
    return this.serialised(async () => {
      this.output.info("Restarting the LogoMesh server.");
      this.policy.reset();
      await this.stopNow();
      await this.startNow();
    });
  }

  stop(): Promise<void> {
    return this.serialised(() => this.stopNow());
  }

  async dispose(): Promise<void> {
    await this.stop();
    for (const subscription of this.subscriptions) subscription.dispose();
  }

  async commands(folder?: vscode.Uri): Promise<ServerCommand[]> {
    const answer = await this.request("logomesh.commands", {}, folder, undefined);
    if (!Array.isArray(answer)) {
      throw this.unexpected("logomesh.commands", answer);
    }
    const commands: ServerCommand[] = [];
    for (const entry of answer) {
      const command = parseServerCommand(entry);
      if (command === undefined) {
        this.output.warn(`logomesh.commands listed an entry of an unknown shape: ${JSON.stringify(entry)}`);
      } else {
        commands.push(command);
      }
    }
    return commands;
  }

  async execute(
    lspCommand: string,
    args: Record<string, unknown>,
    folder?: vscode.Uri,
    token?: vscode.CancellationToken,
  ): Promise<CommandResultJson> {
    const answer = await this.request(lspCommand, args, folder, token);
    if (!isCommandResult(answer)) throw this.unexpected(lspCommand, answer);
    return answer;
  }

  private async request(
    command: string,
    args: Record<string, unknown>,
    folder: vscode.Uri | undefined,
    token: vscode.CancellationToken | undefined,
  ): Promise<unknown> {
    const session = await this.whenRunning(command, token);
    const converter = session.client.code2ProtocolConverter;
    const params = {
      command,
      arguments: folder === undefined ? [args] : [args, { folder: converter.asUri(folder) }],
    };
    try {
      const answer: unknown = await session.client.sendRequest(ExecuteCommandRequest.type, params, token);
      return answer;
    } catch (error) {
      if (error instanceof ResponseError) {
        throw new CommandError(toFailure(error.code, error.message, error.data));
      }
      throw new CommandError({
        code: "server.unavailable",
        message: `LogoMesh: ${command} could not reach the server: ${String(error)}`,
      });
    }
  }

  /** The running session; waits while one starts, fails at once when there is none. */
  private async whenRunning(command: string, token: vscode.CancellationToken | undefined): Promise<Session> {
    while (this.currentState.kind === "starting") {
      await new Promise<void>((resolve, reject) => {
        const waiting = this.onDidChangeState(() => {
          cancelled?.dispose();
          waiting.dispose();
          resolve();
        });
        const cancelled = token?.onCancellationRequested(() => {
          waiting.dispose();
          reject(new CommandError({ code: "lsp.cancelled", message: `LogoMesh: ${command} was cancelled.` }));
        });
      });
    }
    const state = this.currentState;
    if (state.kind === "ready" && this.session !== undefined) return this.session;
    const why = state.kind === "error" ? state.reason : "the server is stopped";
    throw new CommandError({
      code: "server.unavailable",
      message: `LogoMesh: ${command} cannot run: ${why}. Run LogoMesh: Restart Server once it is fixed.`,
    });
  }

  private unexpected(command: string, answer: unknown): CommandError {
    this.output.error(`${command} answered in an unexpected shape: ${JSON.stringify(answer)}`);
    return new CommandError({
      code: "lsp.unexpected_answer",
      message: `LogoMesh: ${command} gave an answer this extension does not understand; is the server another version? See the output.`,
    });
  }

  private serialised(step: () => Promise<void>): Promise<void> {
    const next = this.lifecycle.then(step, step);
    this.lifecycle = next.catch(() => undefined);
    return next;
  }

  private setState(state: ServerState): void {
    this.currentState = state;
    this.stateEmitter.fire(state);
  }

  private readSettings(): Settings {
    const folder = vscode.workspace.workspaceFolders?.[0];
    const configuration = vscode.workspace.getConfiguration(SECTION, folder?.uri);
    return readSettings((key) => configuration.get(key), {
      workspaceFolder: folder?.uri.fsPath,
      userHome: os.homedir(),
    });
  }

  private async startNow(): Promise<void> {
    this.setState({ kind: "starting" });
    const settings = this.readSettings();
    const folder = vscode.workspace.workspaceFolders?.[0];
    const discovery = await discover(
      { settings, workspaceFolder: folder?.uri.fsPath, envPath: process.env.PATH ?? "" },
      nodeProbes(folder?.uri.fsPath, () => pythonEnvironment(folder)),
    );
    for (const attempt of discovery.attempts) {
      this.output.info(`Looking for the server: ${attempt.source} ${attempt.reason ?? "works"}.`);
    }
    if (!discovery.found) {
      const message = failureMessage(discovery.attempts);
      this.output.error(message);
      this.setState({ kind: "error", reason: message.replace(/^LogoMesh: /, "") });
      this.notify("error", message, ["Open Settings"], () =>
        vscode.commands.executeCommand("workbench.action.openSettings", "logomesh.path"),
      );
      return;
    }
    this.reportOtherProblems(settings);
    this.startSession(discovery.launch);
  }

  /** Settings problems discovery did not already report (mode, showNotifications, args). */
  private reportOtherProblems(settings: Settings): void {
    const problems = [...settings.problems.values()];
    if (problems.length === 0) return;
    const message = `LogoMesh: ${problems.join(" ")} The default is used instead.`;
    this.output.warn(message);
    this.notify("warning", message, ["Open Settings"], () =>
      vscode.commands.executeCommand("workbench.action.openSettings", SECTION),
    );
  }

  private startSession(launch: Launch): void {
    const session = new Session(launch);
    session.client = this.createLanguageClient(session);
    this.session = session;
    this.engineMap.clear();
    this.setState({ kind: "starting" });
    this.output.info(`Starting the server (${launch.source}): ${describeLaunch(launch)}`);
    const started = Date.now();
    session.timers.push(
      setTimeout(() => {
        this.output.warn(`The server is still starting after ${SLOW_START_MS / 1000} s; requests wait for it.`);
      }, SLOW_START_MS),
      setTimeout(() => {
        session.fatal = `it did not finish starting within ${START_LIMIT_MS / 60_000} minutes`;
        session.child?.kill("SIGTERM");
      }, START_LIMIT_MS),
    );
    session.client.start().then(
      () => {
        session.clearTimers();
        if (session !== this.session || session.ended || session.stopping) return;
        this.output.info(`The server is ready (${Date.now() - started} ms).`);
        this.setState({ kind: "ready" });
      },
      (error: unknown) => {
        session.lastError ??= String(error);
        void this.sessionEnded(session);
      },
    );
  }

  private createLanguageClient(session: Session): LanguageClient {
    const options: LanguageClientOptions = {
      // The server's code actions and diagnostics are for any file (docs/code-actions.md).
      documentSelector: [{ scheme: "file" }],
      outputChannel: this.output,
      traceOutputChannel: this.output,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: () => this.currentServerOptions(),
      initializationFailedHandler: (error: unknown) => {
        this.output.error(`The server refused to initialize: ${String(error)}`);
        return false;
      },
      errorHandler: {
        // A few unreadable messages are survivable; a stream of them is a broken server.
        error: (_error, _message, count) =>
          count !== undefined && count <= 3
            ? { action: ErrorAction.Continue }
            : { action: ErrorAction.Shutdown, handled: true },
        closed: () => {
          void this.sessionEnded(session);
          return { action: CloseAction.DoNotRestart, handled: true };
        },
      },
      middleware: {
        workspace: {
          // The server asks for its section; VS Code's own settings (path, interpreter...)
          // are not its business and would be warned about as unknown keys.
          configuration: async (params, token, next) => {
            const answers: unknown = await next(params, token);
            if (!Array.isArray(answers)) return answers as ResponseError<void>;
            return params.items.map((item, index): unknown =>
              item.section === SECTION ? this.currentServerOptions() : answers[index],
            );
          },
        },
      },
      stdioOptions: {
        stdout: () => undefined, // stdout carries the protocol (stdio transport)
        stderr: (input) => this.pipeStderr(session, input),
      },
    };
    const client = new QuietLanguageClient(SECTION, "LogoMesh", () => this.spawn(session), options);
    client.onDidChangeState(({ newState }) => {
      if (newState === State.Stopped || newState === State.StartFailed) void this.sessionEnded(session);
    });
    client.onNotification("logomesh/engineReady", (params: unknown) => {
      const engine = parseEngineInfo(params);
      if (engine === undefined) return this.output.warn(`logomesh/engineReady of an unknown shape: ${JSON.stringify(params)}`);
      this.output.info(
        `Engine ready for ${engine.folder}: mode ${engine.mode}, user ${engine.user}` +
          `${engine.trusted ? "" : ", untrusted"}${engine.restricted ? ", Restricted Mode" : ""}.`,
      );
      this.engineMap.set(engine.folder, engine);
      this.engineEmitter.fire(engine);
    });
    client.onNotification("logomesh/engineFailed", (params: unknown) => {
      const failure = parseEngineFailure(params);
      if (failure === undefined) return this.output.warn(`logomesh/engineFailed of an unknown shape: ${JSON.stringify(params)}`);
      this.output.error(`The engine for ${failure.folder} could not be built: ${failure.message}`);
      this.engineMap.delete(failure.folder);
      this.failureEmitter.fire(failure);
    });
    client.onNotification("logomesh/approvalsChanged", (params: unknown) => {
      const change = parseApprovalChange(params);
      if (change === undefined) return this.output.warn(`logomesh/approvalsChanged of an unknown shape: ${JSON.stringify(params)}`);
      this.approvalsEmitter.fire(change);
    });
    return client;
  }

  /** Spawns the server: no shell, stdio pipes, in the first workspace folder. */
  private spawn(session: Session): Promise<cp.ChildProcess> {
    const { program, args } = session.launch;
    const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? os.homedir();
    const child = cp.spawn(program, args, { cwd, env: process.env, stdio: "pipe", windowsHide: true });
    session.child = child;
    child.on("exit", (code, signal) => session.exited(code, signal));
    return new Promise((resolve, reject) => {
      child.once("spawn", () => resolve(child));
      child.on("error", (error) => {
        this.output.error(`The server process ${program}: ${error.message}`);
        session.lastError = error.message;
        reject(error);
      });
    });
  }

  private pipeStderr(session: Session, input: NodeJS.ReadableStream): void {
    const lines = readline.createInterface({ input, crlfDelay: Infinity, terminal: false, historySize: 0 });
    lines.on("line", (line) => {
      this.output.warn(`[server] ${line}`);
      session.stderrTail.push(line);
      if (session.stderrTail.length > STDERR_TAIL_LINES) session.stderrTail.shift();
    });
  }

  /** A session ended without being asked to: restart it or stop, as the policy says. */
  private async sessionEnded(session: Session): Promise<void> {
    if (session.ended || session.stopping || session !== this.session) return;
    session.ended = true;
    session.clearTimers();
    await session.waitForExit(1_000); // the exit code follows the closed pipe closely
    const reason =
      session.fatal ??
      describeEnd({
        code: session.exit?.code,
        signal: session.exit?.signal,
        stderrTail: session.stderrTail,
        error: session.lastError,
      });
    this.output.error(`The LogoMesh server stopped: ${reason}`);
    void session.client.dispose().catch(() => undefined);
    this.engineMap.clear();
    if (session !== this.session) return; // a restart began meanwhile
    if (session.fatal === undefined) {
      const decision = this.policy.onCrash(Date.now());
      if (decision.action === "restart") {
        this.output.warn(
          `Starting it again (${decision.attempt} of ${this.policy.maxRestarts} within ${this.policy.describeWindow()}).`,
        );
        this.startSession(session.launch);
        return;
      }
    }
    const final =
      session.fatal === undefined
        ? `it stopped ${this.policy.maxRestarts + 1} times within ${this.policy.describeWindow()} and is not started again; last: ${reason}`
        : reason;
    this.setState({ kind: "error", reason: final });
    this.notify("error", `LogoMesh: the server stopped: ${final}`, ["Restart", "Show Output"], (choice) =>
      choice === "Restart" ? this.restart() : this.output.show(),
    );
  }

  private async stopNow(): Promise<void> {
    const session = this.session;
    if (session === undefined) {
      this.setState({ kind: "stopped" });
      return;
    }
    session.stopping = true;
    session.clearTimers();
    const { client } = session;
    if (client.state === State.Running) {
      try {
        await client.stop(EXIT_GRACE_MS);
      } catch (error) {
        this.output.warn(`The server did not stop cleanly: ${String(error)}`);
      }
    } else if (session.exit === undefined) {
      session.child?.kill("SIGTERM"); // still starting: nothing to say shutdown to
    }
    if (!(await session.waitForExit(EXIT_GRACE_MS))) {
      this.output.warn(`The server did not exit within ${EXIT_GRACE_MS / 1000} s of shutdown; stopping it.`);
      session.child?.kill("SIGTERM");
    }
    await client.dispose().catch(() => undefined);
    this.session = undefined;
    this.engineMap.clear();
    this.setState({ kind: "stopped" });
  }

  private currentServerOptions(): ServerOptions {
    return serverOptions(this.readSettings().mode, vscode.workspace.isTrusted);
  }

  /** `workspace/didChangeConfiguration`: the server pulls its section again. */
  private async sendConfiguration(): Promise<void> {
    const session = this.session;
    if (session === undefined || session.client.state !== State.Running) return;
    try {
      await session.client.sendNotification(DidChangeConfigurationNotification.type, {
        settings: { [SECTION]: this.currentServerOptions() },
      });
    } catch (error) {
      this.output.warn(`The server could not be told about the new settings: ${String(error)}`);
    }
  }

  private settingsChanged(event: vscode.ConfigurationChangeEvent): void {
    const launch = ["path", "interpreter", "args"].filter((key) =>
      event.affectsConfiguration(`${SECTION}.${key}`),
    );
    if (launch.length > 0) {
      const names = launch.map((key) => `${SECTION}.${key}`).join(", ");
      if (this.currentState.kind === "error" || this.currentState.kind === "stopped") {
        this.output.info(`${names} changed: starting the server again.`);
        void this.restart();
      } else {
        void vscode.window
          .showInformationMessage(`LogoMesh: ${names} changed. Restart the server to use it?`, "Restart")
          .then((choice) => (choice === "Restart" ? this.restart() : undefined));
      }
      return;
    }
    if (event.affectsConfiguration(`${SECTION}.mode`)) void this.sendConfiguration();
  }

  /** A notification, if `logomesh.showNotifications` lets it through; `then` gets the choice. */
  private notify(
    severity: "error" | "warning",
    message: string,
    actions: string[],
    then: (choice: string) => unknown,
  ): void {
    if (!shouldNotify(this.readSettings().showNotifications, severity)) return;
    const show = severity === "error" ? vscode.window.showErrorMessage : vscode.window.showWarningMessage;
    void show(message, ...actions).then((choice) => {
      if (choice !== undefined) void then(choice);
    });
  }
}
