import { describe, expect, it } from "vitest";

import {
  expandVariables,
  launchSetByWorkspace,
  readSettings,
  shouldNotify,
  type ExpansionContext,
  type Settings,
} from "../src/settings";

const context: ExpansionContext = { workspaceFolder: "/src/project", userHome: "/home/ada" };

function read(values: Record<string, unknown>, where: ExpansionContext = context): Settings {
  return readSettings((key) => values[key], where);
}

describe("readSettings", () => {
  it("gives the defaults when nothing is set", () => {
    const settings = read({});
    expect(settings).toMatchObject({
      path: [],
      interpreter: [],
      args: [],
      mode: undefined,
      showNotifications: "always",
    });
    expect(settings.problems.size).toBe(0);
  });

  it("expands ${workspaceFolder}, ${userHome} and ~ in path, interpreter and args", () => {
    const settings = read({
      path: ["${workspaceFolder}/.venv/bin/logomesh", "--config", "~/logomesh.toml"],
      interpreter: ["~/.pyenv/shims/python", "-X", "utf8"],
      args: ["--log-level", "DEBUG", "${userHome}/log"],
    });
    expect(settings.path).toEqual([
      "/src/project/.venv/bin/logomesh",
      "--config",
      "/home/ada/logomesh.toml",
    ]);
    expect(settings.interpreter).toEqual(["/home/ada/.pyenv/shims/python", "-X", "utf8"]);
    expect(settings.args).toEqual(["--log-level", "DEBUG", "/home/ada/log"]);
  });

  it("takes a single string as a one-item list", () => {
    expect(read({ path: "~/bin/logomesh" }).path).toEqual(["/home/ada/bin/logomesh"]);
  });

  it("turns an empty mode into LogoMesh's own configuration and keeps a known one", () => {
    expect(read({ mode: "" }).mode).toBeUndefined();
    expect(read({ mode: "team" }).mode).toBe("team");
  });

  it("names the setting and what it accepts for each bad value, and keeps the default", () => {
    const settings = read({
      path: 42,
      interpreter: ["python", 3],
      mode: "solo",
      showNotifications: "sometimes",
      args: ["${env:HOME}"],
    });
    expect(settings.path).toEqual([]);
    expect(settings.mode).toBeUndefined();
    expect(settings.showNotifications).toBe("always");
    expect(Object.fromEntries(settings.problems)).toEqual({
      "logomesh.path":
        'logomesh.path must be a list of strings, e.g. ["~/project/.venv/bin/logomesh"]; got number 42.',
      "logomesh.interpreter":
        'logomesh.interpreter must be a list of strings, e.g. ["~/project/.venv/bin/logomesh"]; got a list holding string, number.',
      "logomesh.mode":
        'logomesh.mode must be "" (LogoMesh\'s configuration decides) or one of local, team, readonly, offline; got string "solo".',
      "logomesh.showNotifications":
        'logomesh.showNotifications must be one of off, onError, onWarning, always; got string "sometimes".',
      "logomesh.args":
        'logomesh.args uses ${env:HOME} in "${env:HOME}", which LogoMesh does not expand; use ${workspaceFolder}, ${userHome} or ~.',
    });
  });

  it("says that ${workspaceFolder} needs an open folder", () => {
    const settings = read(
      { path: ["${workspaceFolder}/bin/logomesh"] },
      { workspaceFolder: undefined, userHome: "/home/ada" },
    );
    expect(settings.problems.get("logomesh.path")).toBe(
      'logomesh.path uses ${workspaceFolder} in "${workspaceFolder}/bin/logomesh", but no folder is open; open the folder or use an absolute path.',
    );
  });

  it("refuses an empty program", () => {
    expect(read({ interpreter: [""] }).problems.get("logomesh.interpreter")).toContain(
      "the first item is the program",
    );
  });
});

describe("expandVariables", () => {
  it("expands ~ only at the start, alone or before a slash", () => {
    expect(expandVariables("path", "~", context)).toBe("/home/ada");
    expect(expandVariables("path", "~bob/x", context)).toBe("~bob/x");
    expect(expandVariables("path", "a~/b", context)).toBe("a~/b");
  });
});

describe("shouldNotify", () => {
  it("follows logomesh.showNotifications", () => {
    const table = (["off", "onError", "onWarning", "always"] as const).map((level) => [
      level,
      shouldNotify(level, "error"),
      shouldNotify(level, "warning"),
      shouldNotify(level, "info"),
    ]);
    expect(table).toEqual([
      ["off", false, false, false],
      ["onError", true, false, false],
      ["onWarning", true, true, false],
      ["always", true, true, true],
    ]);
  });
});

describe("launchSetByWorkspace", () => {
  it("names the launch settings a workspace or its folder sets, not the user's", () => {
    const values: Record<string, { workspaceValue?: unknown; workspaceFolderValue?: unknown }> = {
      path: { workspaceValue: ["./broken"] },
      interpreter: {},
      args: { workspaceFolderValue: ["--log-level", "DEBUG"] },
    };
    expect(launchSetByWorkspace((key) => values[key])).toEqual(["logomesh.path", "logomesh.args"]);
    expect(launchSetByWorkspace(() => undefined)).toEqual([]);
  });
});
