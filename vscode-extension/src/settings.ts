/**
 * The extension's settings (package.json `contributes.configuration`, section `logomesh`),
 * parsed into typed values.
 *
 * Settings come from a hand-edited settings.json, so every value is checked here: a wrong
 * one becomes a problem that names the setting and says what it accepts, and the setting
 * falls back to its default, so one typo never hides the others. Paths get the variables
 * VS Code users know from tasks and Microsoft's Python tool extensions: `${workspaceFolder}`,
 * `${userHome}` and a leading `~`.
 *
 * Pure: the reader takes a `get` function, so tests run in plain Node and only the caller
 * touches `vscode.workspace.getConfiguration`.
 */

export const SECTION = "logomesh";

/** The modes the engine knows (logomesh/commands/values.py `Mode`); "" leaves it to its config. */
export const MODES = ["local", "team", "readonly", "offline"] as const;
export type Mode = (typeof MODES)[number];

export const NOTIFICATION_LEVELS = ["off", "onError", "onWarning", "always"] as const;
export type NotificationLevel = (typeof NOTIFICATION_LEVELS)[number];

/** Settings that change how the server is started: a change needs a restart. */
export const LAUNCH_SETTINGS = ["path", "interpreter", "args"] as const;

/** What VS Code's `inspect` says of a setting's values, the part read here. */
export interface SettingValues {
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
}

/**
 * The launch settings the workspace sets itself (`logomesh.path`...): restricted
 * configurations, which VS Code honours only once the folder is trusted.
 */
export function launchSetByWorkspace(inspect: (key: string) => SettingValues | undefined): string[] {
  return LAUNCH_SETTINGS.filter((key) => {
    const values = inspect(key);
    return values?.workspaceValue !== undefined || values?.workspaceFolderValue !== undefined;
  }).map((key) => `${SECTION}.${key}`);
}

export interface Settings {
  /** `logomesh.path`: the program first, then arguments; [] when not set. */
  readonly path: string[];
  /** `logomesh.interpreter`: a Python (and its arguments) that has LogoMesh installed. */
  readonly interpreter: string[];
  /** `logomesh.args`: extra server arguments. */
  readonly args: string[];
  /** `logomesh.mode`; undefined: LogoMesh's own configuration decides. */
  readonly mode: Mode | undefined;
  readonly showNotifications: NotificationLevel;
  /** What was wrong, by full setting name (`logomesh.path`), each with how to fix it. */
  readonly problems: ReadonlyMap<string, string>;
}

/** Where `${workspaceFolder}` and `~` point. */
export interface ExpansionContext {
  /** The first workspace folder's path; undefined when no folder is open. */
  readonly workspaceFolder: string | undefined;
  readonly userHome: string;
}

/** Reads one key of the `logomesh` section (`vscode.WorkspaceConfiguration.get`). */
export type SettingReader = (key: string) => unknown;

export function readSettings(get: SettingReader, context: ExpansionContext): Settings {
  const problems = new Map<string, string>();
  const attempt = <T>(key: string, parse: () => T, fallback: T): T => {
    try {
      return parse();
    } catch (error) {
      if (!(error instanceof SettingError)) throw error;
      problems.set(`${SECTION}.${key}`, error.message);
      return fallback;
    }
  };
  return {
    path: attempt("path", () => parseCommandLine("path", get("path"), context), []),
    interpreter: attempt(
      "interpreter",
      () => parseCommandLine("interpreter", get("interpreter"), context),
      [],
    ),
    args: attempt("args", () => parseCommandLine("args", get("args"), context), []),
    mode: attempt("mode", () => parseMode(get("mode")), undefined),
    showNotifications: attempt(
      "showNotifications",
      () => parseNotificationLevel(get("showNotifications")),
      "always",
    ),
    problems,
  };
}

/** A setting that cannot be used; the message names it and says what it accepts. */
export class SettingError extends Error {
  constructor(
    readonly setting: string,
    detail: string,
  ) {
    super(`${SECTION}.${setting} ${detail}`);
    this.name = "SettingError";
  }
}

/**
 * A list of strings (a single string is taken as a one-item list, as users write it),
 * each with its variables expanded. Undefined or null: not set.
 */
export function parseCommandLine(
  setting: string,
  value: unknown,
  context: ExpansionContext,
): string[] {
  if (value === undefined || value === null) return [];
  const items = typeof value === "string" ? [value] : value;
  if (!Array.isArray(items) || !items.every((item) => typeof item === "string")) {
    throw new SettingError(
      setting,
      `must be a list of strings, e.g. ["~/project/.venv/bin/logomesh"]; got ${describe(value)}.`,
    );
  }
  const strings: string[] = items;
  if (strings.length > 0 && strings[0]?.trim() === "" && setting !== "args") {
    throw new SettingError(setting, "starts with an empty string: the first item is the program.");
  }
  return strings.map((item) => expandVariables(setting, item, context));
}

const VARIABLE = /\$\{([^}]*)\}/g;

/** `${workspaceFolder}`, `${userHome}` and a leading `~` (alone or before `/`). */
export function expandVariables(setting: string, value: string, context: ExpansionContext): string {
  let expanded = value.replace(VARIABLE, (_match, name: string) => {
    if (name === "userHome") return context.userHome;
    if (name === "workspaceFolder") {
      if (context.workspaceFolder === undefined) {
        throw new SettingError(
          setting,
          `uses \${workspaceFolder} in ${JSON.stringify(value)}, but no folder is open; ` +
            "open the folder or use an absolute path.",
        );
      }
      return context.workspaceFolder;
    }
    throw new SettingError(
      setting,
      `uses \${${name}} in ${JSON.stringify(value)}, which LogoMesh does not expand; ` +
        "use ${workspaceFolder}, ${userHome} or ~.",
    );
  });
  if (expanded === "~" || expanded.startsWith("~/")) {
    expanded = context.userHome + expanded.slice(1);
  }
  return expanded;
}

export function parseMode(value: unknown): Mode | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "string" && (MODES as readonly string[]).includes(value)) {
    return value as Mode;
  }
  throw new SettingError(
    "mode",
    `must be "" (LogoMesh's configuration decides) or one of ${MODES.join(", ")}; got ${describe(value)}.`,
  );
}

export function parseNotificationLevel(value: unknown): NotificationLevel {
  if (value === undefined || value === null) return "always";
  if (typeof value === "string" && (NOTIFICATION_LEVELS as readonly string[]).includes(value)) {
    return value as NotificationLevel;
  }
  throw new SettingError(
    "showNotifications",
    `must be one of ${NOTIFICATION_LEVELS.join(", ")}; got ${describe(value)}.`,
  );
}

export type Severity = "error" | "warning" | "info";

/** Whether `logomesh.showNotifications` lets a notification of this severity through. */
export function shouldNotify(level: NotificationLevel, severity: Severity): boolean {
  switch (level) {
    case "off":
      return false;
    case "onError":
      return severity === "error";
    case "onWarning":
      return severity !== "info";
    case "always":
      return true;
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return `a list holding ${value.map((v) => typeof v).join(", ")}`;
  return `${typeof value} ${JSON.stringify(value)}`;
}
