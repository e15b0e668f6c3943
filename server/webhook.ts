// The Alertmanager webhook receiver: POST /webhook/alertmanager with a bearer token and a JSON
// body of at most server.maxBodyBytes; each alert is forwarded to its release's incident.
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import pLimit from 'p-limit';
import { alertTarget, parseAlertmanagerPayload, type AlertmanagerPayload, type AlertMapping } from '../decisions/alerts';
import { own, quote } from '../decisions/validation';
import type { Config } from '../lib/config';
import { constantTimeEqual } from '../lib/text';
import { BoundedMemory } from './bounded-memory';
import { ForwardError, UnavailableError, type AlertForwarder, type AlertResult } from './forwarder';
import type { Metrics } from './metrics';

export const WEBHOOK_PATH = '/webhook/alertmanager';

export interface WebhookDeps {
  config: Pick<Config, 'server' | 'alerts'>;
  forwarder: Pick<AlertForwarder, 'forward'> & Partial<Pick<AlertForwarder, 'truncated'>>;
  metrics: Metrics;
  log: (line: string) => void;
}

/** A JSON answer, never cached nor sniffed as anything else. */
export const sendJson = (c: Context, status: ContentfulStatusCode, body: object, headers: Record<string, string> = {}) =>
  c.json(body, status, { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers });

/** Constant-time comparison of a presented bearer token with the configured one. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  return constantTimeEqual(/^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '', token);
}

/** Alerts forwarded at once per request: a payload of thousands waits its turn, it does not fan out. */
const FORWARD_CONCURRENCY = 16;
/** Lines one request may log about rejected alerts (one per distinct reason), the rest counted. */
const REJECTION_LINES = 5;

/**
 * Logs each rejected alert once per hour with its reason, aggregated by reason: Alertmanager
 * re-sends a group every interval, and one line per alert per resend would drown the log.
 */
export class RejectionLog {
  private readonly seen: BoundedMemory<true>;
  constructor(
    private readonly log: (line: string) => void,
    now: () => number = Date.now,
  ) {
    this.seen = new BoundedMemory<true>(10_000, 3600_000, now);
  }

  note(groupKey: string, rejected: { fingerprint: string; reason: string }[]): void {
    const fresh = new Map<string, string[]>();
    for (const r of rejected) {
      const key = `${r.fingerprint}\0${r.reason}`;
      if (this.seen.get(key)) continue;
      this.seen.set(key, true);
      fresh.set(r.reason, [...(fresh.get(r.reason) ?? []), r.fingerprint]);
    }
    const reasons = [...fresh.entries()];
    for (const [reason, fps] of reasons.slice(0, REJECTION_LINES)) {
      const shown = fps.slice(0, 5).join(', ');
      this.log(`rejected ${fps.length} alert(s) of group ${quote(groupKey)}: ${reason} (${shown}${fps.length > 5 ? ` and ${fps.length - 5} more` : ''})`);
    }
    if (reasons.length > REJECTION_LINES) {
      const more = reasons.slice(REJECTION_LINES).reduce((n, [, fps]) => n + fps.length, 0);
      this.log(`rejected ${more} more alert(s) of group ${quote(groupKey)} for ${reasons.length - REJECTION_LINES} other reason(s)`);
    }
  }
}

/** The clusters a truncated group is about: its alerts' and its common labels' (validated by the forwarder against the config). */
function groupClusters(p: AlertmanagerPayload, m: AlertMapping, targets: string[]): string[] {
  const common = [own(p.commonLabels, m.labels.cluster), own(p.groupLabels, m.labels.cluster)].filter((c): c is string => c !== undefined);
  return [...new Set([...targets, ...common])];
}

/** An answer to Alertmanager, counted in helm_unstuck_webhook_requests by its result. */
type Answer = (c: Context, status: ContentfulStatusCode, result: string, body: object, headers?: Record<string, string>) => Response;

const countedAnswer =
  (metrics: Metrics): Answer =>
  (c, status, result, body, headers) => {
    metrics.webhookRequests.inc({ result });
    return sendJson(c, status, body, headers);
  };

// Our own check, not hono/bearer-auth: that one answers a malformed Authorization header 400,
// and a misconfigured Alertmanager should read "401: token" whatever it sends.
const bearerOnly =
  (token: string | undefined, answer: Answer): MiddlewareHandler =>
  async (c, next) => {
    if (!token || !bearerMatches(c.req.header('authorization'), token)) {
      return answer(c, 401, 'unauthorized', { error: 'a valid bearer token is required' }, { 'www-authenticate': 'Bearer' });
    }
    await next();
  };

// Before the size limit: a wrong content type is not "body too large".
const jsonOnly =
  (answer: Answer): MiddlewareHandler =>
  async (c, next) => {
    if (!/^application\/json\b/i.test(c.req.header('content-type') ?? '')) return answer(c, 415, 'unsupported_media_type', { error: 'content-type must be application/json' });
    await next();
  };

/** The sender went away mid-body (or sent a broken stream): one line, no stack trace. */
function aborted(c: Context, err: unknown, answer: Answer, log: (line: string) => void): Response {
  log(`webhook request body not received whole: ${(err as Error)?.message ?? String(err)}`);
  return answer(c, 400, 'aborted', { error: 'the request body was not received whole' });
}

/**
 * At most maxBytes of body. hono's bodyLimit reads c.req.raw.body, which turns @hono/node-server's
 * lightweight request into a full one (and its fast body read off); so it only guards streamed
 * bodies, and a declared length is judged here (Node's parser holds the body to it).
 */
function sizeLimit(maxBytes: number, answer: Answer, log: (line: string) => void): MiddlewareHandler {
  const tooLarge = (c: Context) => answer(c, 413, 'too_large', { error: `body larger than ${maxBytes} bytes` }, { connection: 'close' });
  const streamed = bodyLimit({ maxSize: maxBytes, onError: tooLarge });
  return async (c, next) => {
    const declared = c.req.header('content-length');
    if (declared !== undefined && !c.req.header('transfer-encoding')) return Number(declared) > maxBytes ? tooLarge(c) : next();
    // bodyLimit reads the whole stream before calling next: an error before then is the body's.
    let read = false;
    try {
      return await streamed(c, async () => {
        read = true;
        await next();
      });
    } catch (err) {
      if (read) throw err;
      return aborted(c, err, answer, log);
    }
  };
}

/** The request's Alertmanager payload, or the answer that says why there is none. */
async function readPayload(c: Context, answer: Answer, log: (line: string) => void): Promise<{ payload: AlertmanagerPayload } | { refused: Response }> {
  let text: string;
  try {
    text = await c.req.text();
  } catch (err) {
    return { refused: aborted(c, err, answer, log) };
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    return { refused: answer(c, 400, 'bad_request', { error: `body is not JSON: ${(err as Error).message}` }) };
  }
  const parsed = parseAlertmanagerPayload(body);
  if ('problems' in parsed) return { refused: answer(c, 400, 'bad_request', { error: 'not an Alertmanager webhook (version 4)', problems: parsed.problems.slice(0, 20) }) };
  return { payload: parsed.payload };
}

/** Each alert to its release's incident, FORWARD_CONCURRENCY at a time; the clusters they name. Throws what the forwarder throws. */
async function forwardAlerts(deps: WebhookDeps, payload: AlertmanagerPayload): Promise<{ results: AlertResult[]; clusters: string[] }> {
  const clusters = new Set<string>();
  const results = await pLimit(FORWARD_CONCURRENCY).map(payload.alerts, async (a): Promise<AlertResult> => {
    const t = alertTarget(a, deps.config.alerts);
    if ('reason' in t) return { fingerprint: a.fingerprint, result: 'rejected', reason: t.reason };
    clusters.add(t.target.cluster);
    return deps.forwarder.forward(t.target);
  });
  // Alerts that were not alerts at all are rejected alone: the rest of their group is handled.
  const unreadable = payload.unreadable.map((u): AlertResult => ({ fingerprint: u.fingerprint, result: 'rejected', reason: u.reason }));
  return { results: [...unreadable, ...results], clusters: [...clusters] };
}

/** Temporal unreachable (503: Alertmanager retries, and the retry is deduplicated) or answering with an error (500, logged once, here). */
function forwardFailed(c: Context, err: unknown, answer: Answer, log: (line: string) => void): Response {
  if (err instanceof UnavailableError) return answer(c, 503, 'unavailable', { error: err.message }, { 'retry-after': '10' });
  if (err instanceof ForwardError) {
    log(`${err.message}${err.cause instanceof Error && err.cause.stack ? `\n${err.cause.stack}` : ''}`);
    return answer(c, 500, 'error', { error: err.message });
  }
  throw err;
}

/** Alertmanager left alerts out of the group (max_alerts): its body is discarded, so the log, the metric and a scan are what count. */
function noteTruncation(deps: WebhookDeps, payload: AlertmanagerPayload, clusters: string[]): void {
  deps.metrics.alertsTruncated.inc(payload.truncatedAlerts);
  const named = groupClusters(payload, deps.config.alerts, clusters);
  deps.log(`Alertmanager left ${payload.truncatedAlerts} alert(s) out of group ${quote(payload.groupKey)} (max_alerts); scanning cluster(s) ${named.map(quote).join(', ') || '(none named)'} for the releases it left out`);
  for (const cluster of named) deps.forwarder.truncated?.(cluster, payload.truncatedAlerts);
}

/** POST /webhook/alertmanager, past its checks: each alert forwarded or rejected, and the answer that says which. */
async function receiveAlerts(c: Context, deps: WebhookDeps, answer: Answer, rejections: RejectionLog): Promise<Response> {
  const read = await readPayload(c, answer, deps.log);
  if ('refused' in read) return read.refused;
  const { payload } = read;
  let forwarded: Awaited<ReturnType<typeof forwardAlerts>>;
  try {
    forwarded = await forwardAlerts(deps, payload);
  } catch (err) {
    return forwardFailed(c, err, answer, deps.log);
  }
  for (const r of forwarded.results) deps.metrics.alerts.inc({ result: r.result });
  const accepted = forwarded.results.filter((r) => r.result !== 'rejected');
  const rejected = forwarded.results.filter((r) => r.result === 'rejected');
  rejections.note(payload.groupKey, rejected);
  if (payload.truncatedAlerts > 0) noteTruncation(deps, payload, forwarded.clusters);
  const reply = {
    accepted,
    rejected,
    ...(payload.truncatedAlerts > 0 ? { warning: `Alertmanager dropped ${payload.truncatedAlerts} alerts from this group (max_alerts); helm-unstuck scans the cluster for them` } : {}),
  };
  return accepted.length === 0 ? answer(c, 422, 'all_rejected', reply) : answer(c, 200, 'ok', reply);
}

export function webhook(deps: WebhookDeps): Hono {
  const rejections = new RejectionLog(deps.log);
  const { server } = deps.config;
  const answer = countedAnswer(deps.metrics);
  const app = new Hono();
  app.post(WEBHOOK_PATH, bearerOnly(server.webhookToken, answer), jsonOnly(answer), sizeLimit(server.maxBodyBytes, answer, deps.log), (c) => receiveAlerts(c, deps, answer, rejections));
  app.all(WEBHOOK_PATH, (c) => answer(c, 405, 'method_not_allowed', { error: 'use POST' }, { allow: 'POST' }));
  return app;
}
