// serve's people-facing HTTP over real HTTP, before Temporal is asked anything: the API's bearer
// tokens, single sign-on on the page (ID tokens from a loopback issuer), failed-login limits and
// the /metrics token. What reaches the workflow is in test/stack/sso-serve.test.ts.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { createAdaptorServer } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { checkProof, newSecretKey, publicKeyOf } from '../../decisions/decision-proof';
import { SSO_ALGORITHMS } from '../../lib/config';
import { signedDecision, type DecisionSender } from '../../server/decide';
import { checkDecisionRequest } from '../../server/decision-request';
import { LoginLimiter } from '../../server/rate-limit';
import { ssoVerifier } from '../../server/sso';
import { startLocalIssuer, type LocalIssuer } from './local-issuer';
import { peopleApp } from './people-app';

const ALICE = 'alice-unit-test-token-0123456789';
const METRICS = 'metrics-unit-test-token';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const client = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
const sent: Parameters<DecisionSender>[] = [];
const send: DecisionSender = async (...args) => {
  sent.push(args);
  return { ok: true, step: 'approval' };
};

let op: LocalIssuer;
const servers: Server[] = [];
async function listen(o: { sso: boolean; metricsToken?: string; perClient?: number }): Promise<string> {
  const limiter = new LoginLimiter({ perClient: o.perClient ?? 1000, overall: 10_000, windowMs: 60_000 });
  const sso = o.sso ? ssoVerifier({ issuer: op.issuer, clientId: 'helm-unstuck', groupsClaim: 'groups', algorithms: [...SSO_ALGORITHMS] }) : undefined;
  const people = { client, send, users: { alice: sha(ALICE) }, limiter, ...(sso ? { sso } : {}) };
  const app = peopleApp(people, o);
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  servers.push(server);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
let tokens: string;
let sso: string;
beforeAll(async () => {
  op = await startLocalIssuer();
  tokens = await listen({ sso: false, metricsToken: METRICS, perClient: 3 });
  sso = await listen({ sso: true });
});
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((ok) => s.close(ok));
  }
  await op.close();
  await client.connection.close();
});
beforeEach(() => (sent.length = 0));

const FORGED = { 'x-forwarded-user': 'alice', 'x-forwarded-email': 'alice@example.test', 'x-forwarded-groups': 'helm-approvers', 'x-forwarded-preferred-username': 'alice' };
const decision = (url: string, headers: Record<string, string>, body: unknown = { action: 'approve', reason: 'CI quiet', plan: 'a1b2c3d4e5f6' }) =>
  fetch(`${url}/api/v1/incidents/helm-unstuck/local/ns/rel/decisions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

describe('the API', () => {
  test('a wrong, missing or forged-header identity is 401 and nothing is sent', async () => {
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer not-alice' }, { authorization: `Basic ${ALICE}` }, FORGED]) {
      const r = await decision(sso, headers);
      expect([r.status, r.headers.get('www-authenticate')]).toEqual([401, 'Bearer']);
    }
    expect(sent).toEqual([]);
  });

  test('a user token decides as that user, verified by token, via the API, with the plan it names', async () => {
    const r = await decision(sso, { authorization: `Bearer ${ALICE}` });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ accepted: true, step: 'approval', by: 'alice', verifiedBy: 'token' });
    expect(sent).toEqual([['helm-unstuck/local/ns/rel', { action: 'approve', reason: 'CI quiet', plan: 'a1b2c3d4e5f6' }, { user: 'alice', verifiedBy: 'token', groups: [] }, 'api']]);
  });

  test('an ID token decides as the SSO identity with its groups', async () => {
    await decision(sso, { authorization: `Bearer ${await op.token({ preferred_username: 'carol', groups: ['helm-approvers'] })}` });
    expect(sent[0]?.[2]).toEqual({ user: 'carol', verifiedBy: 'sso', groups: ['helm-approvers'], subject: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/?#carol$/) });
  });

  test.each<[string, unknown, number, RegExp]>([
    ['an unknown action', { action: 'delete', reason: 'x' }, 400, /action must be/],
    ['no reason', { action: 'approve', reason: '  ' }, 400, /reason is empty/],
    ['a plan that is not a digest', { action: 'approve', reason: 'x', plan: '<b>' }, 400, /plan must be the plan digest/],
    ['an unknown key', { action: 'approve', reason: 'x', by: 'mallory' }, 400, /the decision has unknown key \\"by\\"/],
    ['a reason of 1,001 characters', { action: 'approve', reason: 'r'.repeat(1001), plan: 'a1b2c3d4e5f6' }, 400, /^\{"error":"not a decision: reason is too long \(more than 1000 characters\)"/],
  ])('%s is refused before anything is sent', async (_w, body, status, problem) => {
    const r = await decision(sso, { authorization: `Bearer ${ALICE}` }, body);
    expect(r.status).toBe(status);
    expect(JSON.stringify(await r.json())).toMatch(problem);
    expect(sent).toEqual([]);
  });

  test('a reason of 1,000 characters is sent whole', async () => {
    const r = await decision(sso, { authorization: `Bearer ${ALICE}` }, { action: 'approve', reason: 'r'.repeat(1000), plan: 'a1b2c3d4e5f6' });
    expect(r.status).toBe(200);
    expect(sent[0]?.[1].reason).toBe('r'.repeat(1000));
  });

  test('a name longer than 256 characters cannot decide: single sign-on refuses it, and serve would name `by`', async () => {
    const r = await decision(sso, { authorization: `Bearer ${await op.token({ preferred_username: 'c'.repeat(257), groups: ['helm-approvers'] })}` });
    expect(r.status).toBe(401);
    expect(sent).toEqual([]);
    const asked = { action: 'approve', reason: 'x', plan: 'a1b2c3d4e5f6' };
    expect(checkDecisionRequest(asked, { user: 'c'.repeat(257) })).toEqual({ problems: ['by (your name, as serve verified it) is too long (more than 256 characters)'] });
    expect(checkDecisionRequest(asked, { user: 'c'.repeat(256) })).toEqual({ data: asked });
  });

  test('failed attempts are limited per client: 429 with Retry-After; the right token still goes through', async () => {
    for (let i = 0; i < 3; i++) expect((await decision(tokens, { authorization: 'Bearer guess' })).status).toBe(401);
    const r = await decision(tokens, { authorization: 'Bearer guess' });
    expect([r.status, r.headers.get('retry-after')]).toEqual([429, '60']);
    const badLogin = await fetch(`${tokens}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=guess', redirect: 'manual' });
    expect(badLogin.status).toBe(429);
    expect(sent).toEqual([]);
    expect((await decision(tokens, { authorization: `Bearer ${ALICE}` })).status).toBe(200);
    const login = await fetch(`${tokens}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${ALICE}`, redirect: 'manual' });
    expect(login.status).toBe(303);
  });
});

describe('the page behind single sign-on', () => {
  test('forged identity headers without an ID token get nothing', async () => {
    for (const path of ['/incidents', '/incidents/helm-unstuck/local/ns/rel', '/releases/local/ns/rel', '/releases/local']) {
      const r = await fetch(`${sso}${path}`, { headers: FORGED, redirect: 'manual' });
      expect(r.status).toBe(401);
      expect(await r.text()).toMatch(/Sign in through single sign-on: no ID token/);
    }
    const post = await fetch(`${sso}/incidents/helm-unstuck/local/ns/rel/decide`, { method: 'POST', headers: { ...FORGED, 'content-type': 'application/x-www-form-urlencoded', origin: sso }, body: 'action=approve&reason=x' });
    expect(post.status).toBe(401);
    expect(sent).toEqual([]);
  });

  test('there is no login form; a token login is refused', async () => {
    expect((await fetch(`${sso}/login`)).status).toBe(404);
    const r = await fetch(`${sso}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${ALICE}`, redirect: 'manual' });
    expect([r.status, r.headers.get('set-cookie')]).toEqual([404, null]);
  });

  test("a form needs the viewer's CSRF token; with it, the decision is sent as the SSO identity via the page", async () => {
    const authorization = `Bearer ${await op.token({ preferred_username: 'carol', groups: ['helm-approvers'] })}`;
    const form = (body: string) => fetch(`${sso}/incidents/helm-unstuck/local/ns/rel/decide`, { method: 'POST', redirect: 'manual', headers: { authorization, origin: sso, 'content-type': 'application/x-www-form-urlencoded' }, body });
    expect((await form('action=approve&reason=x&csrf=forged')).status).toBe(403);
    // The logout form on any page carries the token; the 403 page is one (no Temporal needed).
    const csrf = /name="csrf" value="([^"]+)"/.exec(await (await form('csrf=x')).text())![1]!;
    const long = await form(`action=approve&reason=${'r'.repeat(1001)}&plan=a1b2c3d4e5f6&csrf=${csrf}`);
    expect(long.status).toBe(400);
    expect(await long.text()).toContain('Nothing was sent: reason is too long (more than 1000 characters).');
    expect(sent).toEqual([]);
    await form(`action=approve&reason=looks+right&plan=a1b2c3d4e5f6&csrf=${csrf}`);
    expect(sent).toEqual([['helm-unstuck/local/ns/rel', { action: 'approve', reason: 'looks right', plan: 'a1b2c3d4e5f6' }, expect.objectContaining({ user: 'carol', verifiedBy: 'sso', groups: ['helm-approvers'] }), 'page']]);
  });
});

test('/metrics needs its bearer token when one is configured', async () => {
  expect((await fetch(`${tokens}/metrics`)).status).toBe(401);
  expect((await fetch(`${tokens}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
  const ok = await fetch(`${tokens}/metrics`, { headers: { authorization: `Bearer ${METRICS}` } });
  expect([ok.status, (await ok.text()).includes('helm_unstuck_webhook_requests_total')]).toEqual([200, true]);
  expect((await fetch(`${sso}/metrics`)).status).toBe(200);
});

test('signedDecision: the proof verifies for exactly this decision; groups only for SSO', () => {
  const key = newSecretKey();
  const now = Date.parse('2026-11-25T12:00:00Z');
  const at = { run: 'r1', hold: 'approval' as const, seq: 1 };
  const d = signedDecision('helm-unstuck/a/b/c', at, { action: 'approve', reason: 'ok', plan: 'a1b2c3d4e5f6' }, { user: 'Carol', verifiedBy: 'sso', groups: ['g'], subject: 'https://idp#7' }, 'page', key, now);
  expect(d).toMatchObject({ action: 'approve', by: 'Carol', reason: 'ok', plan: 'a1b2c3d4e5f6', proof: { ...at, verifiedBy: 'sso', via: 'page', principal: 'sso:carol', subject: 'https://idp#7', groups: ['g'], at: '2026-11-25T12:00:00.000Z' } });
  expect(checkProof('helm-unstuck/a/b/c', d, d.proof, [publicKeyOf(key)], { ...at, nowMs: now })).toEqual({ ok: true, verifiedBy: 'sso', via: 'page', groups: ['g'], principal: 'sso:carol', subject: 'https://idp#7' });
  const t = signedDecision('helm-unstuck/a/b/c', at, { action: 'reject', reason: 'no' }, { user: 'alice', verifiedBy: 'token', groups: ['ignored'] }, 'api', key, now);
  expect(t.proof.groups).toBeUndefined();
  expect(checkProof('helm-unstuck/a/b/c', t, t.proof, [publicKeyOf(key)], { ...at, nowMs: now })).toMatchObject({ ok: true, verifiedBy: 'token', via: 'api', principal: 'token:alice' });
});
