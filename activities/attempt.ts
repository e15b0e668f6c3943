// One activity attempt's lifetime, shared with the adapters: it heartbeats while it runs, and its
// requests are aborted when Temporal cancels it, when it ends, or just before its start-to-close
// timeout. So an attempt is over, requests included, before Temporal can start the next one:
// two attempts never act at once (the double DELETE). One exception, leftToFinish: a
// write the attempt gave up on keeps its connection, since closing it would not unsend it.
import { AsyncLocalStorage } from 'node:async_hooks';
import { Context } from '@temporalio/activity';

/** How often a running attempt heartbeats; the workflow's heartbeatTimeout is a few of these. */
export const HEARTBEAT_EVERY_MS = 2_000;
/** The attempt aborts its requests this long before its start-to-close timeout. */
export const DEADLINE_MARGIN_MS = 10_000;

interface Attempt {
  signal: AbortSignal;
  number: number;
  /** Inside leftToFinish: `signal` alone ends requests, not the attempt or a request timeout. */
  leftToFinish?: boolean;
}

const current = new AsyncLocalStorage<Attempt>();

/** The running attempt's signal (undefined outside an activity, e.g. in the CLI). */
export const attemptSignal = (): AbortSignal | undefined => current.getStore()?.signal;

/** 1 for a first attempt (and outside an activity); more when Temporal retried this activity. */
export const attemptNumber = (): number => current.getStore()?.number ?? 1;

/** A request's signal: the attempt's, and its own timeout. */
export function requestSignal(timeoutMs: number): AbortSignal {
  const store = current.getStore();
  if (store?.leftToFinish) return store.signal;
  // Not AbortSignal.any([attempt, AbortSignal.timeout()]): in Node 20 the combined signal holds
  // its sources weakly and the timeout's timer holds its signal weakly, so a collection could drop
  // the timeout before it fired and the request waited for ever (an attempt on a frozen API
  // server hung 50 s instead of 15, in test/stack/outage.test.ts). Here the timer holds the
  // controller, and the attempt's signal (held for the attempt's life) holds its listener.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError')), timeoutMs);
  timer.unref();
  const attempt = attemptSignal();
  if (attempt?.aborted) controller.abort(attempt.reason);
  else attempt?.addEventListener('abort', () => controller.abort(attempt.reason), { once: true });
  controller.signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  return controller.signal;
}

/**
 * Run `fn` (one write) with its requests ended by `lingerMs` only: neither their own timeout nor
 * the attempt ending closes their connection. The caller gives up waiting on its own terms and
 * leaves the request to finish. Aborting a request the API server already holds does not unsend
 * it: a frozen server reads it when it resumes and, finding its client gone, cancels it (504,
 * "context canceled"), after which the retry has to send a second one. Left open, it completes,
 * and the retry finds it done.
 */
export function leftToFinish<R>(lingerMs: number, fn: () => Promise<R>): Promise<R> {
  return current.run({ signal: AbortSignal.timeout(lingerMs), number: attemptNumber(), leftToFinish: true }, fn);
}

/** Why a request was aborted, in words: its own timeout, or the attempt ending. */
export function abortedBecause(signal: AbortSignal, timeoutMs: number): string {
  const r = signal.reason as { name?: string } | undefined;
  return r?.name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : 'the activity attempt ended (cancelled or out of time)';
}

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined; // not in an activity: the CLI and tests call activities directly
  }
}

/** Run `fn` as one attempt: heartbeating, with a signal that ends with it. */
export function withAttempt<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  const wrapped = async (...args: A) => {
    const ctx = activityContext();
    if (!ctx) return fn(...args);
    const ended = new AbortController();
    const budget = ctx.info.startToCloseTimeoutMs - DEADLINE_MARGIN_MS;
    // Not AbortSignal.timeout: its reason would read as a request's own timeout.
    const deadline = budget > 0 ? setTimeout(() => ended.abort(new Error('out of time')), budget) : undefined;
    ctx.heartbeat();
    const beat = setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS);
    try {
      return await current.run({ signal: AbortSignal.any([ctx.cancellationSignal, ended.signal]), number: ctx.info.attempt }, () => fn(...args));
    } finally {
      clearTimeout(deadline);
      clearInterval(beat);
      // Requests still in flight (a Promise.all's losers) must not outlive the attempt.
      ended.abort();
    }
  };
  Object.defineProperty(wrapped, 'name', { value: fn.name });
  return wrapped;
}
