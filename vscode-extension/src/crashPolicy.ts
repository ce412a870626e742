/**
 * When a server that stopped by itself is started again: at most `maxRestarts` times within
 * `windowMs`, then never until the person asks (LogoMesh: Restart Server).
 *
 * A server that crashes at start (a broken install, a bad `logomesh.args`) would otherwise
 * be restarted forever, each time with a notification. The window forgets old crashes, so
 * a server that crashed once an hour ago is still restarted today. Each restart waits a
 * little longer (0.5 s, 1 s, 2 s...), so a passing cause (a locked database, a busy disk)
 * has time to pass instead of using up the attempts within a second.
 */
export type CrashDecision =
  | { readonly action: "restart"; readonly attempt: number; readonly delayMs: number }
  | { readonly action: "stop"; readonly crashes: number };

export class CrashPolicy {
  private crashes: number[] = [];

  constructor(
    readonly maxRestarts = 3,
    readonly windowMs = 3 * 60 * 1000,
    readonly firstDelayMs = 500,
  ) {}

  /** Records a crash at `now` (milliseconds) and says what to do about it. */
  onCrash(now: number): CrashDecision {
    this.crashes = this.crashes.filter((time) => now - time < this.windowMs);
    this.crashes.push(now);
    if (this.crashes.length <= this.maxRestarts) {
      const attempt = this.crashes.length;
      return { action: "restart", attempt, delayMs: this.firstDelayMs * 2 ** (attempt - 1) };
    }
    return { action: "stop", crashes: this.crashes.length };
  }

  /** A restart the person asked for starts with a clean slate. */
  reset(): void {
    this.crashes = [];
  }

  /** The window in words, for messages ("3 minutes"). */
  describeWindow(): string {
    const minutes = Math.round(this.windowMs / 60_000);
    return minutes >= 1
      ? `${minutes} minute${minutes === 1 ? "" : "s"}`
      : `${Math.round(this.windowMs / 1000)} s`;
  }
}

/** What is known about a server process that ended. */
export interface ServerEnd {
  /** Exit code; null or undefined when it did not exit by itself (or not yet). */
  readonly code: number | null | undefined;
  readonly signal: string | null | undefined;
  /** The last lines it wrote on stderr, where the server logs (and Python's tracebacks go). */
  readonly stderrTail: readonly string[];
  /** What the client library reported, when it reported something. */
  readonly error?: string;
}

/** Why the server stopped, in one line: how it ended and its last word on stderr. */
export function describeEnd(end: ServerEnd): string {
  let how: string;
  if (typeof end.code === "number") how = `it exited with code ${end.code}`;
  else if (end.signal) how = `it was stopped by ${end.signal}`;
  else how = "its connection closed";
  const last = [...end.stderrTail].reverse().find((line) => line.trim() !== "");
  if (last !== undefined) return `${how}: ${last.trim()}`;
  if (end.error !== undefined && end.error !== "") return `${how} (${end.error})`;
  return how;
}
