// `helm-unstuck serve`: the Alertmanager webhook receiver, /metrics, health, and (when users
// are configured) the approval page.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { alertTarget, parseAlertmanagerPayload } from '../decisions/alerts';
import { constantTimeEqual } from '../lib/text';
import type { Config } from '../lib/config';
import { UnavailableError, type AlertForwarder, type AlertResult } from './forwarder';
import type { Metrics } from './metrics';

export const WEBHOOK_PATH = '/webhook/alertmanager';

export interface Handler {
  /** Returns true if it handled the request. */
  (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
}

export interface ServerDeps {
  config: Pick<Config, 'server' | 'alerts'>;
  forwarder: AlertForwarder;
  metrics: Metrics;
  /** Further routes (the approval page). */
  extra?: Handler;
}

/** Constant-time comparison of a presented bearer token with the configured one. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  return constantTimeEqual(/^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '', token);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

export class BodyTooLarge extends Error {}

/** The request body, refusing (and stopping to read) past `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((ok, fail) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) return fail(new BodyTooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        fail(new BodyTooLarge());
      } else chunks.push(c);
    });
    req.on('end', () => ok(Buffer.concat(chunks)));
    req.on('error', fail);
  });
}

async function webhook(deps: ServerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const m = deps.metrics;
  const done = (status: number, result: string, body: unknown, headers?: Record<string, string>) => {
    m.webhookRequests.inc({ result });
    sendJson(res, status, body, headers);
  };
  if (req.method !== 'POST') return done(405, 'method_not_allowed', { error: 'use POST' }, { allow: 'POST' });
  const token = deps.config.server.webhookToken;
  if (!token || !bearerMatches(req.headers.authorization, token)) {
    req.resume();
    return done(401, 'unauthorized', { error: 'a valid bearer token is required' }, { 'www-authenticate': 'Bearer' });
  }
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
    req.resume();
    return done(415, 'unsupported_media_type', { error: 'content-type must be application/json' });
  }
  let body: Buffer;
  try {
    body = await readBody(req, deps.config.server.maxBodyBytes);
  } catch (err) {
    if (err instanceof BodyTooLarge) return done(413, 'too_large', { error: `body larger than ${deps.config.server.maxBodyBytes} bytes` }, { connection: 'close' });
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (err) {
    return done(400, 'bad_request', { error: `body is not JSON: ${(err as Error).message}` });
  }
  const parsed = parseAlertmanagerPayload(json);
  if ('problems' in parsed) return done(400, 'bad_request', { error: 'not an Alertmanager webhook (version 4)', problems: parsed.problems.slice(0, 20) });

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
    if (err instanceof UnavailableError) return done(503, 'unavailable', { error: err.message }, { 'retry-after': '10' });
    throw err;
  }
  for (const r of results) m.alerts.inc({ result: r.result });
  const accepted = results.filter((r) => r.result !== 'rejected');
  const rejected = results.filter((r) => r.result === 'rejected');
  const body2 = {
    accepted,
    rejected,
    ...(parsed.payload.truncatedAlerts > 0 ? { warning: `Alertmanager dropped ${parsed.payload.truncatedAlerts} alerts from this group (max_alerts)` } : {}),
  };
  if (accepted.length === 0) return done(422, 'all_rejected', body2);
  return done(200, 'ok', body2);
}

export function createHttpServer(deps: ServerDeps): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://helm-unstuck');
    (async () => {
      if (url.pathname === WEBHOOK_PATH) return webhook(deps, req, res);
      if (url.pathname === '/metrics' && req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        return void res.end(deps.metrics.registry.text());
      }
      if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
      if (deps.extra && (await deps.extra(req, res, url))) return;
      sendJson(res, 404, { error: 'not found' });
    })().catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
      console.error('helm-unstuck serve:', err);
    });
  });
}
