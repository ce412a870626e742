/**
 * The LogoMesh language server's lifecycle in VS Code, behind api.ts's `LogoMeshClient`:
 * discovery, start, the crash policy, restart, Workspace Trust and the settings the server
 * is told.
 *
 * Each start is a `Session` (src/session.ts): one server process and its `LanguageClient`.
 * A session that ends by itself is a crash: `CrashPolicy` decides whether a new session
 * starts (3 times in 3 minutes) or the client stops with state `error` and one notification
 * with Restart and Show Output; the output has the reason. The client library's own
 * restarts and notifications are off, so there is one voice and no loop. Requests made
 * while a session starts wait for it (`whenRunning`).
 */
import * as os from "node:os";
import * as vscode from "vscode";
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  MessageType,
  ResponseError,
  State,
  type ShowMessageParams,
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
import {
  describeLaunch,
  discover,
  failureMessage,
  SOURCES,
  type Discovery,
  type Launch,
} from "./discovery";
import { showNotification } from "./notify";
import { nodeProbes } from "./probes";
import { onPythonEnvironmentChange, pythonEnvironment } from "./pythonExtension";
import {
  isObject,
  parseServerCommand,
  serverOptions,
  toFailure,
  type ServerOptions,
} from "./protocol";
import { ServerEvents } from "./serverEvents";
import { Session } from "./session";
import {
  LAUNCH_SETTINGS,
  launchSetByWorkspace,
  readSettings,
  SECTION,
  shouldNotify,
  type Settings,
  type Severity,
} from "./settings";

/** A slow start is logged after 20 s and given up after 5 minutes (models loading on a
 * busy machine take minutes, not ten). */
const [SLOW_START_MS, START_LIMIT_MS] = [20_000, 5 * 60_000];
const TRUST_SETTLES_MS = 5_000;
/** On stop the server writes its queued audit records before it exits (docs/editors.md). */
const EXIT_GRACE_MS = 5_000;

export class LogoMeshLanguageClient implements LogoMeshClient, vscode.Disposable {
  private currentState: ServerState = { kind: "stopped" };
  private session: Session | undefined;
  private readonly policy = new CrashPolicy();
  private readonly stateEmitter = new vscode.EventEmitter<ServerState>();
  private readonly events: ServerEvents;
  private readonly subscriptions: vscode.Disposable[] = [];
  /** Whether the Python extension's environment changes are watched (once discovery asked it). */
  private watchingPython = false;
  /** When the folder was last trusted: its own launch settings then apply at once. */
  private trustedAt = 0;
  /** Serialises start, stop and restart: the person may click Restart twice. */
  private lifecycle: Promise<void> = Promise.resolve();

  readonly onDidChangeState = this.stateEmitter.event;
  readonly onDidChangeEngine: vscode.Event<EngineInfo>;
  readonly onDidFailEngine: vscode.Event<EngineFailure>;
  readonly onDidChangeApprovals: vscode.Event<ApprovalChange>;

  constructor(readonly output: vscode.LogOutputChannel) {
    this.events = new ServerEvents(output);
    this.onDidChangeEngine = this.events.onDidChangeEngine;
    this.onDidFailEngine = this.events.onDidFailEngine;
    this.onDidChangeApprovals = this.events.onDidChangeApprovals;
    this.subscriptions.push(
      this.stateEmitter,
      this.events,
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.trustGranted()),
      vscode.workspace.onDidChangeConfiguration((event) => this.settingsChanged(event)),
    );
  }

  get state(): ServerState {
    return this.currentState;
  }

  get engines(): ReadonlyMap<string, EngineInfo> {
    return this.events.engines;
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
        this.output.warn(
          `logomesh.commands listed an entry of an unknown shape: ${JSON.stringify(entry)}`,
        );
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
    if (!isObject(answer)) throw this.unexpected(lspCommand, answer);
    // Usually a CommandResult; `logomesh.do`'s outcome and a command waiting on its ticket
    // are other objects, which results.ts tells apart with its own guards.
    return answer as unknown as CommandResultJson;
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
      const answer: unknown = await session.client.sendRequest(
        ExecuteCommandRequest.type,
        params,
        token,
      );
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
  private async whenRunning(
    command: string,
    token: vscode.CancellationToken | undefined,
  ): Promise<Session> {
    while (this.currentState.kind === "starting") {
      if (token?.isCancellationRequested === true) {
        throw new CommandError({
          code: "lsp.cancelled",
          message: `LogoMesh: ${command} was cancelled.`,
        });
      }
      await new Promise<void>((resolve) => {
        const waiting = this.onDidChangeState(() => {
          cancelled?.dispose();
          waiting.dispose();
          resolve();
        });
        const cancelled = token?.onCancellationRequested(() => {
          waiting.dispose();
          resolve(); // the check at the top of the loop says so
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
      this.output.info(`Looking for the server: ${attempt.source}: ${attempt.reason ?? "works"}.`);
    }
    this.watchPython(discovery);
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

  /**
   * Once discovery has asked the Python extension, a newly selected interpreter may be the
   * one that works (or the one in use changed): start again, or offer to.
   */
  private watchPython(discovery: Discovery): void {
    const asked = discovery.attempts.some((attempt) => attempt.source.startsWith(SOURCES.python));
    if (!asked || this.watchingPython) return;
    this.watchingPython = true;
    void onPythonEnvironmentChange(() => this.pythonEnvironmentChanged()).then((watch) => {
      if (watch !== undefined) this.subscriptions.push(watch);
    });
  }

  private pythonEnvironmentChanged(): void {
    if (this.currentState.kind === "error") {
      this.output.info("The Python extension's environment changed: looking for the server again.");
      void this.restart();
    } else if (this.session?.launch.source.startsWith(SOURCES.python) === true) {
      void vscode.window
        .showInformationMessage(
          "LogoMesh: the Python environment changed. Restart the server with it?",
          "Restart",
        )
        .then((choice) => (choice === "Restart" ? this.restart() : undefined));
    }
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
    const session = new Session(launch, {
      output: this.output,
      serverOptions: () => this.currentServerOptions(),
      ended: (ended) => void this.sessionEnded(ended),
      notification: (method, params) => this.events.handle(method, params),
      showMessage: (params) => this.showMessage(params),
    });
    this.session = session;
    this.events.forgetEngines();
    this.setState({ kind: "starting" });
    this.output.info(`Starting the server (${launch.source}): ${describeLaunch(launch)}`);
    const started = Date.now();
    session.timers.push(
      setTimeout(() => {
        this.output.warn(
          `The server is still starting after ${SLOW_START_MS / 1000} s; requests wait for it.`,
        );
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
        session.end();
      },
    );
  }

  /**
   * The server's messages (what loading found, a code action's explanation): always in the
   * output, and a notification when `logomesh.showNotifications` lets its severity through.
   */
  private showMessage({ type, message }: ShowMessageParams): void {
    const severity =
      type === MessageType.Error ? "error" : type === MessageType.Warning ? "warning" : "info";
    this.output[severity === "warning" ? "warn" : severity](message);
    this.notify(severity, message, [], () => undefined);
  }

  /** A session ended without being asked to: restart it or stop, as the policy says. */
  private async sessionEnded(session: Session): Promise<void> {
    if (session !== this.session) return;
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
    void session.dispose();
    this.events.forgetEngines();
    if (session !== this.session) return; // a restart began meanwhile
    if (session.fatal === undefined) {
      const decision = this.policy.onCrash(Date.now());
      if (decision.action === "restart") {
        this.output.warn(
          `Starting it again in ${decision.delayMs / 1000} s (${decision.attempt} of ` +
            `${this.policy.maxRestarts} within ${this.policy.describeWindow()}).`,
        );
        this.setState({ kind: "starting" }); // requests wait for the new session
        // A stop or restart meanwhile clears the session's timers, and with them this one.
        session.timers.push(
          setTimeout(() => {
            if (session === this.session) this.startSession(session.launch);
          }, decision.delayMs),
        );
        return;
      }
    }
    const final =
      session.fatal === undefined
        ? `it stopped ${this.policy.maxRestarts + 1} times within ${this.policy.describeWindow()} and is not started again; last: ${reason}`
        : reason;
    this.setState({ kind: "error", reason: final });
    this.notify(
      "error",
      `LogoMesh: the server stopped: ${final}`,
      ["Restart", "Show Output"],
      (choice) => (choice === "Restart" ? this.restart() : this.output.show()),
    );
  }

  private async stopNow(): Promise<void> {
    const session = this.session;
    if (session !== undefined) {
      await session.stop(EXIT_GRACE_MS);
      this.session = undefined;
      this.events.forgetEngines();
    }
    this.setState({ kind: "stopped" });
  }

  private currentServerOptions(): ServerOptions {
    return serverOptions(this.readSettings().mode, vscode.workspace.isTrusted);
  }

  /** Trusted now: the folder's own launch settings (ignored until now) may name another
   * server, so start that one; otherwise the server rebuilds its engine with the trust. */
  private trustGranted(): void {
    const folder = vscode.workspace.workspaceFolders?.[0];
    const configuration = vscode.workspace.getConfiguration(SECTION, folder?.uri);
    const own = launchSetByWorkspace((key) => configuration.inspect(key));
    // VS Code may report the folder's launch settings only in a change event just after.
    this.trustedAt = Date.now();
    if (own.length > 0) {
      this.output.info(`The workspace is trusted now and sets ${own.join(", ")}: restarting.`);
      void this.restart();
    } else {
      this.output.info("The workspace is trusted now: telling the server.");
      void this.sendConfiguration();
    }
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
    const launch = LAUNCH_SETTINGS.filter((key) => event.affectsConfiguration(`${SECTION}.${key}`));
    if (launch.length > 0) {
      const names = launch.map((key) => `${SECTION}.${key}`).join(", ");
      const byTrust = Date.now() - this.trustedAt < TRUST_SETTLES_MS;
      if (byTrust || this.currentState.kind === "error" || this.currentState.kind === "stopped") {
        this.output.info(`${names} changed: starting the server again.`);
        void this.restart();
      } else {
        this.output.info(
          `${names} changed: the running server keeps the old value until restarted.`,
        );
        void vscode.window
          .showInformationMessage(
            `LogoMesh: ${names} changed. Restart the server to use it?`,
            "Restart",
          )
          .then((choice) => (choice === "Restart" ? this.restart() : undefined));
      }
      return;
    }
    if (event.affectsConfiguration(`${SECTION}.mode`)) {
      this.output.info("logomesh.mode changed: telling the server.");
      void this.sendConfiguration();
    }
  }

  /** A notification, if `logomesh.showNotifications` lets it through; `then` gets the choice. */
  private notify(
    severity: Severity,
    message: string,
    actions: string[],
    then: (choice: string) => unknown,
  ): void {
    if (!shouldNotify(this.readSettings().showNotifications, severity)) return;
    void showNotification(severity, message, actions).then((choice) => {
      if (choice !== undefined) void then(choice);
    });
  }
}
