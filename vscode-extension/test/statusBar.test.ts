import type * as vscode from "vscode";
import { describe, expect, it } from "vitest";

import {
  CommandError,
  type ApprovalChange,
  type CommandResultJson,
  type EngineFailure,
  type EngineInfo,
  type LogoMeshClient,
  type ServerState,
} from "../src/api";
import { describeStatus, StatusBarController, type StatusModel } from "../src/statusBar";

const engine: EngineInfo = {
  folder: "file:///src/project",
  mode: "local",
  trusted: true,
  restricted: false,
  user: "ada",
  notices: [],
};

function model(overrides: Partial<StatusModel>): StatusModel {
  return { state: { kind: "ready" }, engine, engineFailure: undefined, pending: 0, ...overrides };
}

describe("describeStatus", () => {
  it("spins while the server starts", () => {
    const view = describeStatus(model({ state: { kind: "starting" } }));
    expect(view.text).toBe("$(sync~spin) LogoMesh");
    expect(view.tooltip).toContain("starting");
    expect(view.command).toBe("logomesh.showOutput");
  });

  it("shows the mode once the engine is ready", () => {
    const view = describeStatus(model({}));
    expect(view).toEqual({
      text: "$(check) LogoMesh: local",
      tooltip: "LogoMesh: ready, mode local, as ada.\nClick to see the output.",
      command: "logomesh.showOutput",
    });
    expect(describeStatus(model({ engine: undefined })).text).toBe("$(check) LogoMesh");
  });

  it("puts the reason of an error in the tooltip", () => {
    const view = describeStatus(
      model({ state: { kind: "error", reason: "it exited with code 1: boom" } }),
    );
    expect(view.text).toBe("$(error) LogoMesh");
    expect(view.tooltip).toContain("LogoMesh is not running: it exited with code 1: boom");
    expect(view.command).toBe("logomesh.showOutput");
  });

  it("counts pending approvals and opens them on click", () => {
    const view = describeStatus(model({ pending: 2 }));
    expect(view.text).toBe("$(check) LogoMesh: local · 2 pending");
    expect(view.tooltip).toContain("2 approvals waiting");
    expect(view.command).toBe("logomesh.showApprovals");
    expect(describeStatus(model({ pending: 1 })).tooltip).toContain("1 approval waiting");
  });

  it("says Restricted when the engine runs without the workspace's code", () => {
    const view = describeStatus(
      model({ engine: { ...engine, trusted: false, restricted: true }, pending: 1 }),
    );
    expect(view.text).toBe("$(check) LogoMesh: local $(shield) Restricted · 1 pending");
    expect(view.tooltip).toContain("Restricted Mode");
  });

  it("warns when the server runs but the engine failed", () => {
    const view = describeStatus(
      model({ engine: undefined, engineFailure: "logomesh.toml line 3: bad mode" }),
    );
    expect(view.text).toBe("$(warning) LogoMesh");
    expect(view.tooltip).toContain("logomesh.toml line 3: bad mode");
  });

  it("says how to start a stopped server", () => {
    expect(describeStatus(model({ state: { kind: "stopped" } })).tooltip).toContain(
      "Restart Server",
    );
  });
});

class Emitter<T> {
  private listeners: ((value: T) => unknown)[] = [];
  readonly event: vscode.Event<T> = (listener) => {
    this.listeners.push(listener);
    return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
  };
  fire(value: T): void {
    for (const listener of this.listeners) listener(value);
  }
}

/** A client whose server answers approvals.list with `tickets`, or fails. */
class FakeClient implements LogoMeshClient {
  state: ServerState = { kind: "starting" };
  readonly engines = new Map<string, EngineInfo>();
  readonly states = new Emitter<ServerState>();
  readonly engineEvents = new Emitter<EngineInfo>();
  readonly failures = new Emitter<EngineFailure>();
  readonly approvals = new Emitter<ApprovalChange>();
  readonly onDidChangeState = this.states.event;
  readonly onDidChangeEngine = this.engineEvents.event;
  readonly onDidFailEngine = this.failures.event;
  readonly onDidChangeApprovals = this.approvals.event;
  readonly logged: string[] = [];
  readonly output = {
    info: (m: string) => this.logged.push(m),
    warn: (m: string) => this.logged.push(m),
  } as unknown as vscode.LogOutputChannel;
  calls: [string, Record<string, unknown>][] = [];
  tickets: unknown = [];
  beforeAnswer: () => void = () => undefined;

  commands(): Promise<never> {
    return Promise.reject(new Error("not used"));
  }

  execute(command: string, args: Record<string, unknown>): Promise<CommandResultJson> {
    this.calls.push([command, args]);
    this.beforeAnswer();
    if (this.tickets instanceof Error) {
      return Promise.reject(
        new CommandError({ code: "command.denied", message: this.tickets.message }),
      );
    }
    return Promise.resolve({ ok: true, message: "", data: this.tickets } as CommandResultJson);
  }

  ready(): void {
    this.state = { kind: "ready" };
    this.states.fire(this.state);
    this.engines.set(engine.folder, engine);
    this.engineEvents.fire(engine);
  }
}

function change(ticketId: string, state: string): ApprovalChange {
  return { ticketId, state, command: "git.push", risk: "danger", requester: "ada" };
}

function setUp() {
  const item = {
    text: "",
    tooltip: "",
    command: "",
    show: () => undefined,
    dispose: () => undefined,
  };
  const client = new FakeClient();
  const controller = new StatusBarController(
    item as unknown as vscode.StatusBarItem,
    client,
    () => engine.folder,
  );
  return { item, client, controller };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("StatusBarController", () => {
  it("lists the pending tickets once when the engine is ready, then follows the changes", async () => {
    const { item, client } = setUp();
    expect(item.text).toBe("$(sync~spin) LogoMesh");
    client.tickets = [
      { id: "t1", state: "pending" },
      { id: "t2", state: "pending" },
    ];
    client.ready();
    await settle();
    expect(client.calls).toEqual([["logomesh.approvals.list", { state: "pending", limit: 1000 }]]);
    expect(item.text).toBe("$(check) LogoMesh: local · 2 pending");
    expect(item.command).toBe("logomesh.showApprovals");

    client.approvals.fire(change("t3", "pending"));
    client.approvals.fire(change("t1", "approved"));
    client.approvals.fire(change("t2", "expired"));
    expect(item.text).toBe("$(check) LogoMesh: local · 1 pending");
    client.approvals.fire(change("t3", "declined"));
    expect(item.text).toBe("$(check) LogoMesh: local");
    expect(item.command).toBe("logomesh.showOutput");
    expect(client.calls).toHaveLength(1); // changes never list again (each list is audited)
  });

  it("keeps a change that arrives while the list is on its way", async () => {
    const { item, client } = setUp();
    client.tickets = [{ id: "t1", state: "pending" }];
    client.beforeAnswer = () => client.approvals.fire(change("t1", "approved"));
    client.ready();
    await settle();
    expect(item.text).toBe("$(check) LogoMesh: local");
  });

  it("shows no count, and says why in the output, when the list is refused", async () => {
    const { item, client } = setUp();
    client.tickets = new Error("LogoMesh: you may not list approvals");
    client.ready();
    await settle();
    expect(item.text).toBe("$(check) LogoMesh: local");
    expect(client.logged.join("\n")).toContain("you may not list approvals");
  });

  it("shows the error state with its reason, and an engine failure of its folder", () => {
    const { item, client } = setUp();
    client.failures.fire({ folder: engine.folder, message: "logomesh.toml: bad" });
    client.state = { kind: "ready" };
    client.states.fire(client.state);
    expect(item.text).toBe("$(warning) LogoMesh");
    client.state = { kind: "error", reason: "it exited with code 2" };
    client.states.fire(client.state);
    expect(item.text).toBe("$(error) LogoMesh");
    expect(item.tooltip).toContain("it exited with code 2");
  });
});
