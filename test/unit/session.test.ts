// Approval-page sessions: the cookie is Secure unless the operator serves plain HTTP on purpose,
// and a session ends on logout (its cookie replayed afterwards is refused). No Temporal needed:
// the routes used here never ask it anything.
import { createHash } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../../lib/config';
import { approvalPage } from '../../server/approval-page';
import type { DecisionSender } from '../../server/decide';
import { LoginLimiter } from '../../server/rate-limit';
import { Revoked } from '../../server/session';

const ALICE = 'alice-session-test-token-0123456789';
const ORIGIN = 'http://serve.test';
const client = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
afterAll(() => client.connection.close());
const send: DecisionSender = async () => ({ ok: true, step: 'approval' });

const T = Date.parse('2026-11-25T12:00:00Z');
const page = (o: { insecureCookies?: boolean } = {}) =>
  approvalPage({ client, send, users: { alice: createHash('sha256').update(ALICE).digest('hex') }, limiter: new LoginLimiter(loadConfig({}).server.loginLimit), clusters: {}, now: () => T, ...o });
type Page = ReturnType<typeof page>;
const form = (app: Page, path: string, body: string, headers: Record<string, string> = {}) =>
  app.request(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', host: 'serve.test', ...headers }, body });

async function logIn(app: Page): Promise<{ setCookie: string; cookie: string; csrf: string }> {
  const r = await form(app, '/login', `token=${ALICE}`);
  expect(r.status).toBe(303);
  const setCookie = r.headers.get('set-cookie')!;
  const cookie = setCookie.split(';')[0]!;
  // Every logged-in page carries the CSRF token in its logout form, the 403 page too.
  const csrf = /name="csrf" value="([^"]+)"/.exec(await (await form(app, '/logout', 'csrf=wrong', { cookie, origin: ORIGIN })).text())![1]!;
  return { setCookie, cookie, csrf };
}
/** 403: the session was recognised and the form judged on its CSRF token; 401: no session. */
const recognised = async (app: Page, cookie: string) => (await form(app, '/logout', 'csrf=wrong', { cookie, origin: ORIGIN })).status;

describe('the session cookie', () => {
  test('is Secure, HttpOnly and SameSite=Strict by default (loadConfig({}) says so too)', async () => {
    expect(loadConfig({}).server.insecureCookies).toBe(false);
    const { setCookie } = await logIn(page({ insecureCookies: loadConfig({}).server.insecureCookies }));
    expect(setCookie.split('; ')).toEqual(expect.arrayContaining(['Secure', 'HttpOnly', 'SameSite=Strict', 'Path=/']));
    const { setCookie: unset } = await logIn(page());
    expect(unset.split('; ')).toContain('Secure');
  });

  test('is not Secure only when the operator serves plain HTTP on purpose (server.insecureCookies)', async () => {
    const { setCookie } = await logIn(page({ insecureCookies: true }));
    expect(setCookie.split('; ')).not.toContain('Secure');
    expect(setCookie.split('; ')).toEqual(expect.arrayContaining(['HttpOnly', 'SameSite=Strict']));
  });
});

describe('logout', () => {
  test('ends the session: the cookie replayed afterwards is refused; another session of the same user is not', async () => {
    const app = page();
    const one = await logIn(app);
    const two = await logIn(app);
    expect(await recognised(app, one.cookie)).toBe(403);
    const out = await form(app, '/logout', `csrf=${one.csrf}`, { cookie: one.cookie, origin: ORIGIN });
    expect([out.status, out.headers.get('location')]).toEqual([303, '/login']);
    expect(out.headers.get('set-cookie')).toMatch(/^hu_session=; Max-Age=0;/);
    expect(await recognised(app, one.cookie)).toBe(401);
    const get = await app.request('/incidents', { headers: { cookie: one.cookie } });
    expect([get.status, get.headers.get('location')]).toEqual([303, '/login?next=%2Fincidents']);
    // Logging out again with the replayed cookie is refused too, as no session.
    expect((await form(app, '/logout', `csrf=${one.csrf}`, { cookie: one.cookie, origin: ORIGIN })).status).toBe(401);
    expect(await recognised(app, two.cookie)).toBe(403);
  });

  test('a forged or old-format cookie is no session', async () => {
    const app = page();
    expect(await recognised(app, 'hu_session=eyJ1c2VyIjoiYWxpY2UifQ.forged')).toBe(401);
  });
});

describe('Revoked', () => {
  const s = (sid: string, iat: number, exp: number) => ({ sid, iat, exp });
  test('remembers each logged-out session until it would have expired, and no longer', () => {
    let now = 1_000_000_000;
    const r = new Revoked(() => now, 3);
    r.revoke(s('a', now, now / 1000 + 10));
    r.revoke(s('b', now, now / 1000 + 100));
    r.revoke(s('c', now, now / 1000 + 100));
    expect([r.has(s('a', now, 0)), r.has(s('d', now + 1, 0)), r.size]).toEqual([true, false, 3]);
    // Full: what has expired is forgotten to make room.
    now += 10_000;
    r.revoke(s('d', now, now / 1000 + 100));
    expect([r.has(s('a', 0, 0)), r.has(s('d', now, 0)), r.size]).toEqual([false, true, 3]);
  });

  test('full of live revocations: every session issued so far ends instead; later ones live', () => {
    let now = 1_000_000_000;
    const r = new Revoked(() => now, 2);
    r.revoke(s('a', now, now / 1000 + 100));
    r.revoke(s('b', now, now / 1000 + 100));
    now += 1;
    const live = s('live', now - 1, now / 1000 + 100);
    expect(r.has(live)).toBe(false);
    r.revoke(s('c', now, now / 1000 + 100));
    expect([r.has(live), r.has(s('c', now, 0)), r.has(s('a', 0, 0)), r.size]).toEqual([true, true, true, 0]);
    now += 1;
    expect(r.has(s('new', now, now / 1000 + 100))).toBe(false);
  });
});
