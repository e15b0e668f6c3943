// The Alertmanager webhook receiver: POST /webhook/alertmanager with a bearer token and a JSON
// body of at most server.maxBodyBytes; each alert is forwarded to its release's incident.
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { alertTarget, parseAlertmanagerPayload } from '../decisions/alerts';
import type { Config } from '../lib/config';
import { constantTimeEqual } from '../lib/text';
import { ForwardError, UnavailableError, type AlertForwarder, type AlertResult } from './forwarder';
import type { Metrics } from './metrics';

export const WEBHOOK_PATH = '/webhook/alertmanager';

export interface WebhookDeps {
  config: Pick<Config, 'server' | 'alerts'>;
  forwarder: Pick<AlertForwarder, 'forward'>;
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

export function webhook(deps: WebhookDeps): Hono {
  const { server } = deps.config;
  /** Every answer is counted by its result. */
  const answer = (c: Context, status: ContentfulStatusCode, result: string, body: object, headers?: Record<string, string>) => {
    deps.metrics.webhookRequests.inc({ result });
    return sendJson(c, status, body, headers);
  };
  // Our own check, not hono/bearer-auth: that one answers a malformed Authorization header 400,
  // and a misconfigured Alertmanager should read "401: token" whatever it sends.
  const bearer: MiddlewareHandler = async (c, next) => {
    if (!server.webhookToken || !bearerMatches(c.req.header('authorization'), server.webhookToken)) {
      return answer(c, 401, 'unauthorized', { error: 'a valid bearer token is required' }, { 'www-authenticate': 'Bearer' });
    }
    await next();
  };
  // Before the size limit: a wrong content type is not "body too large".
  const json: MiddlewareHandler = async (c, next) => {
    if (!/^application\/json\b/i.test(c.req.header('content-type') ?? '')) return answer(c, 415, 'unsupported_media_type', { error: 'content-type must be application/json' });
    await next();
  };
  const tooLarge = (c: Context) => answer(c, 413, 'too_large', { error: `body larger than ${server.maxBodyBytes} bytes` }, { connection: 'close' });
  const streamed = bodyLimit({ maxSize: server.maxBodyBytes, onError: tooLarge });
  // hono's bodyLimit reads c.req.raw.body, which turns @hono/node-server's lightweight request
  // into a full one (and its fast body read off); so it only guards streamed bodies, and a
  // declared length is judged here (Node's parser holds the body to it).
  const limit: MiddlewareHandler = async (c, next) => {
    const declared = c.req.header('content-length');
    if (declared === undefined || c.req.header('transfer-encoding')) return streamed(c, next);
    return Number(declared) > server.maxBodyBytes ? tooLarge(c) : next();
  };

  const app = new Hono();
  app.post(WEBHOOK_PATH, bearer, json, limit, async (c) => {
    let body: unknown;
    try {
      body = JSON.parse(await c.req.text());
    } catch (err) {
      return answer(c, 400, 'bad_request', { error: `body is not JSON: ${(err as Error).message}` });
    }
    const parsed = parseAlertmanagerPayload(body);
    if ('problems' in parsed) return answer(c, 400, 'bad_request', { error: 'not an Alertmanager webhook (version 4)', problems: parsed.problems.slice(0, 20) });

    let results: AlertResult[];
    try {
      results = await Promise.all(
        parsed.payload.alerts.map(async (a): Promise<AlertResult> => {
          const t = alertTarget(a, deps.config.alerts);
          if ('reason' in t) return { fingerprint: a.fingerprint, result: 'rejected', reason: t.reason };
          return deps.forwarder.forward(t.target);
        }),
      );
    } catch (err) {
      // Temporal unreachable: Alertmanager retries on 5xx, and the retry is deduplicated.
      if (err instanceof UnavailableError) return answer(c, 503, 'unavailable', { error: err.message }, { 'retry-after': '10' });
      // Temporal answered, with an error: say which, and log it (once: only here).
      if (err instanceof ForwardError) {
        deps.log(`${err.message}${err.cause instanceof Error && err.cause.stack ? `\n${err.cause.stack}` : ''}`);
        return answer(c, 500, 'error', { error: err.message });
      }
      throw err;
    }
    for (const r of results) deps.metrics.alerts.inc({ result: r.result });
    const accepted = results.filter((r) => r.result !== 'rejected');
    const rejected = results.filter((r) => r.result === 'rejected');
    const reply = {
      accepted,
      rejected,
      ...(parsed.payload.truncatedAlerts > 0 ? { warning: `Alertmanager dropped ${parsed.payload.truncatedAlerts} alerts from this group (max_alerts)` } : {}),
    };
    return accepted.length === 0 ? answer(c, 422, 'all_rejected', reply) : answer(c, 200, 'ok', reply);
  });
  app.all(WEBHOOK_PATH, (c) => answer(c, 405, 'method_not_allowed', { error: 'use POST' }, { allow: 'POST' }));
  return app;
}
