// The one way tests wait for something that happens on its own time (a server answering, a log
// line, a workflow's status): poll until it holds, or fail saying what was awaited and what was
// last seen. Never a fixed sleep: a sleep is either too short on a loaded machine or wasted time.
import { inspect } from 'node:util';

export interface WaitOptions {
  /** How long to wait before failing; generous, as these machines are shared (default 30 s). */
  timeoutMs?: number;
  /** Between two looks (default 100 ms). */
  intervalMs?: number;
  /** Looked at before each look: a reason here fails the wait at once (a process that exited). */
  failIf?: () => string | undefined;
}

/**
 * Poll `get` until `until` holds for its value, and return that value. An error thrown by `get`
 * counts as "not yet" (a server still starting); the last one is in the failure's message.
 */
export async function waitFor<T>(
  what: string,
  get: () => T | Promise<T>,
  until: (value: T) => boolean = Boolean,
  opts: WaitOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let seen: { value: T } | undefined;
  let lastError: unknown;
  for (;;) {
    const reason = opts.failIf?.();
    if (reason) throw new Error(`waiting for ${what}: ${reason}${lastSeen(seen, lastError)}`);
    try {
      const value = await get();
      if (until(value)) return value;
      seen = { value };
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) throw new Error(`waiting for ${what}: not so after ${timeoutMs} ms${lastSeen(seen, lastError)}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
}

function lastSeen(seen: { value: unknown } | undefined, lastError: unknown): string {
  const value = seen ? `; last seen: ${inspect(seen.value, { depth: 6, breakLength: Infinity, maxStringLength: 2000 })}` : '; nothing seen';
  const error = lastError === undefined ? '' : `; last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
  return value + error;
}
