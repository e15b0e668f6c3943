// serve's HTTP API for the CLI (and scripts): an incident's status, and decisions, for a person
// serve verified: `Authorization: Bearer <user token>` (the page's users, compared in constant
// time) or, with single sign-on, an ID token. Every decision is signed by serve (./decide.ts).
//   GET  /api/v1/incidents/<workflow id>             → the status
//   POST /api/v1/incidents/<workflow id>/decisions   {action, reason, plan} → accepted, or refused
// A refusal (409) carries the incident's status as it is now, so the caller sees the new plan.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { every } from 'hono/combine';
import { incidentStatus } from '../client/incidents';
import type { RemediationStatus } from '../workflows/definitions';
import { clientAddress } from './approval-page';
import type { DecisionSender } from './decide';
import { checkDecisionRequest } from './decision-request';
import type { LoginLimiter } from './rate-limit';
import { userForToken } from './session';
import type { Identity, SsoVerifier } from './sso';
import { sendJson } from './webhook';

export const API_PREFIX = '/api/v1';
const MAX_BODY_BYTES = 16 * 1024;

export interface ApiOptions {
  client: Client;
  send: DecisionSender;
  /** user name → SHA-256 hex of the user's token */
  users: Record<string, string>;
  sso?: SsoVerifier;
  limiter: LoginLimiter;
}

type ApiEnv = { Variables: { who: Identity } };
export type Api = ReturnType<typeof api>;


const unauthorized = (c: Context) => sendJson(c, 401, { error: 'a valid bearer token is required (your helm-unstuck user token, or an ID token)' }, { 'www-authenticate': 'Bearer' });

/** The person a bearer token names: a user token, else (with single sign-on) an ID token. */
async function identify(o: ApiOptions, header: string | undefined): Promise<Identity | undefined> {
  const token = /^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '';
  const user = token ? userForToken(o.users, token) : undefined;
  if (user) return { user, verifiedBy: 'token', groups: [] };
  if (o.sso && token.split('.').length === 3) {
    const r = await o.sso.verify(header);
    if (r.ok) return r.identity;
  }
  return undefined;
}

/** Every API request names its person, and failures are counted against the limiter. */
const authenticate =
  (o: ApiOptions): MiddlewareHandler<ApiEnv> =>
  async (c, next) => {
    const r = await o.limiter.attempt(clientAddress(c), () => identify(o, c.req.header('authorization')));
    if (!r.ok && r.retryAfter > 0) return sendJson(c, 429, { error: `too many failed attempts: try again in ${r.retryAfter}s` }, { 'retry-after': String(r.retryAfter) });
    if (!r.ok) return unauthorized(c);
    c.set('who', r.who);
    await next();
  };

/** A JSON body of at most MAX_BODY_BYTES. */
const jsonBody = every(
  async (c: Context, next) => {
    if (!/^application\/json\b/i.test(c.req.header('content-type') ?? '')) return sendJson(c, 415, { error: 'content-type must be application/json' });
    await next();
  },
  bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => sendJson(c, 413, { error: `body larger than ${MAX_BODY_BYTES} bytes` }) }),
);

/** The incident's status (incidentStatus), or undefined when there is no such incident. */
async function statusOf(client: Client, id: string): Promise<RemediationStatus | undefined> {
  try {
    return await incidentStatus(client, id);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

const notFound = (c: Context, id: string) => sendJson(c, 404, { error: `no incident ${id}` });

/** POST …/decisions: the decision sent under the caller's verified name; refused, with the status as it is now. */
async function decide(o: ApiOptions, c: Context<ApiEnv>): Promise<Response> {
  const id = c.req.param('id')!;
  let body: unknown;
  try {
    body = JSON.parse(await c.req.text());
  } catch (err) {
    return sendJson(c, 400, { error: `body is not JSON: ${(err as Error).message}` });
  }
  const who = c.var.who;
  const parsed = checkDecisionRequest(body, who);
  if ('problems' in parsed) return sendJson(c, 400, { error: `not a decision: ${parsed.problems.join('; ')}`, problems: parsed.problems });
  const r = await o.send(id, parsed.data, who, 'api');
  if (r.ok) return sendJson(c, 200, { accepted: true, step: r.step, by: who.user, verifiedBy: who.verifiedBy });
  if (r.notFound) return notFound(c, id);
  // The status as it is now (the new plan, the approvals so far), if it can still be read.
  const now = await statusOf(o.client, id).catch(() => undefined);
  return sendJson(c, 409, { error: `refused: ${r.refused}`, refused: r.refused, ...(now ? { status: now } : {}) });
}

export function api(o: ApiOptions): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.use(`${API_PREFIX}/*`, authenticate(o));
  app.post(`${API_PREFIX}/incidents/:id{.+}/decisions`, jsonBody, (c) => decide(o, c));
  app.get(`${API_PREFIX}/incidents/:id{.+}`, async (c) => {
    const id = c.req.param('id');
    const s = await statusOf(o.client, id);
    return s ? sendJson(c, 200, s) : notFound(c, id);
  });
  return app;
}
