import { describe, expect, it } from "vitest";

import { CrashPolicy, describeEnd } from "../src/crashPolicy";

const MINUTE = 60_000;

describe("CrashPolicy", () => {
  it("restarts 3 times within 3 minutes, then stops: no endless loop", () => {
    const policy = new CrashPolicy(3, 3 * MINUTE);
    const decisions = [0, 1_000, 2_000, 3_000, 4_000].map((now) => policy.onCrash(now));
    expect(decisions).toEqual([
      { action: "restart", attempt: 1, delayMs: 500 },
      { action: "restart", attempt: 2, delayMs: 1000 },
      { action: "restart", attempt: 3, delayMs: 2000 },
      { action: "stop", crashes: 4 },
      { action: "stop", crashes: 5 },
    ]);
  });

  it("forgets crashes older than the window", () => {
    const policy = new CrashPolicy(3, 3 * MINUTE);
    for (const now of [0, MINUTE, 2 * MINUTE]) policy.onCrash(now);
    // The first crash is 3 minutes old now: two remain, this is the third.
    expect(policy.onCrash(3 * MINUTE)).toMatchObject({ action: "restart", attempt: 3 });
    expect(policy.onCrash(3 * MINUTE + 1)).toEqual({ action: "stop", crashes: 4 });
    expect(policy.onCrash(60 * MINUTE)).toMatchObject({ action: "restart", attempt: 1 });
  });

  it("starts afresh after a restart the person asked for", () => {
    const policy = new CrashPolicy(1, MINUTE);
    policy.onCrash(0);
    expect(policy.onCrash(1).action).toBe("stop");
    policy.reset();
    expect(policy.onCrash(2)).toMatchObject({ action: "restart", attempt: 1 });
  });

  it("describes its window", () => {
    expect(new CrashPolicy().describeWindow()).toBe("3 minutes");
    expect(new CrashPolicy(3, MINUTE).describeWindow()).toBe("1 minute");
    expect(new CrashPolicy(3, 5_000).describeWindow()).toBe("5 s");
  });
});

describe("describeEnd", () => {
  it("gives the exit code and the server's last stderr line", () => {
    const tail = [
      "Traceback (most recent call last):",
      '  File "x.py", line 1',
      "RuntimeError: the database is locked",
      "",
    ];
    expect(describeEnd({ code: 1, signal: null, stderrTail: tail })).toBe(
      "it exited with code 1: RuntimeError: the database is locked",
    );
  });

  it("names the signal, or the library's error when the server said nothing", () => {
    expect(describeEnd({ code: null, signal: "SIGKILL", stderrTail: [] })).toBe(
      "it was stopped by SIGKILL",
    );
    expect(
      describeEnd({ code: undefined, signal: undefined, stderrTail: [], error: "spawn ENOENT" }),
    ).toBe("its connection closed (spawn ENOENT)");
  });
});
