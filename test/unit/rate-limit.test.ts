import { createHash } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { Hono } from 'hono';
import { loadConfig } from '../../lib/config';
import type { DecisionSender } from '../../server/decide';
import { LoginLimiter } from '../../server/rate-limit';
import { peopleApp } from './people-app';

let t = 0;
beforeEach(() => (t = 1_000_000));

describe('LoginLimiter', () => {
  const limiter = () => new LoginLimiter({ perClient: 3, overall: 5, windowMs: 60_000 }, () => t);

  test('a client is stopped after its failures, until the window ends; others are not', () => {
    const l = limiter();
    for (let i = 0; i < 3; i++) {
      expect(l.retryAfter('a')).toBe(0);
      l.failed('a');
    }
    expect(l.retryAfter('a')).toBe(60);
    expect(l.retryAfter('b')).toBe(0);
    t += 59_500;
    expect(l.retryAfter('a')).toBe(1);
    t += 500;
    expect(l.retryAfter('a')).toBe(0);
  });

  test('many clients together are stopped by the overall limit', () => {
    const l = limiter();
    for (const c of ['a', 'b', 'c', 'd', 'e']) l.failed(c);
    expect(l.retryAfter('f')).toBe(60);
    t += 60_000;
    expect(l.retryAfter('f')).toBe(0);
  });

  test('attempt: the credential is judged first; only failures are counted and limited', async () => {
    const l = limiter();
    const verified: string[] = [];
    const check = (token: string) => () => {
      verified.push(token);
      return token === 'right' ? 'alice' : undefined;
    };
    for (let i = 0; i < 3; i++) expect(await l.attempt('a', check('wrong'))).toEqual({ ok: false, retryAfter: 0 });
    expect(await l.attempt('a', check('wrong'))).toEqual({ ok: false, retryAfter: 60 });
    expect(await l.attempt('a', check('right'))).toEqual({ ok: true, who: 'alice' });
    expect(verified).toEqual(['wrong', 'wrong', 'wrong', 'wrong', 'right']);
    // A success neither counts nor lifts the limit.
    expect(l.retryAfter('a')).toBe(60);
    expect(await l.attempt('b', check('right'))).toEqual({ ok: true, who: 'alice' });
    expect(l.retryAfter('b')).toBe(0);
  });

  test('memory stays bounded: old windows are swept when the table is full', () => {
    const l = new LoginLimiter({ perClient: 1, overall: 1e6, windowMs: 1000 }, () => t);
    for (let i = 0; i < 10_000; i++) l.failed(`c${i}`);
    expect(l.size).toBe(10_000);
    l.failed('one-more');
    expect(l.retryAfter('one-more')).toBe(0);
    t += 1000;
    l.failed('after');
    expect(l.size).toBe(1);
    expect(l.retryAfter('after')).toBe(1);
  });
});

describe('a flood of bad tokens (serve as configured by default: loginLimit 10 per client, 100 overall, per minute)', () => {
  const ALICE = 'alice-rate-limit-test-token-0123456789';
  const client = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
  const sent: Parameters<DecisionSender>[] = [];
  const send: DecisionSender = async (...args) => {
    sent.push(args);
    return { ok: true, step: 'approval' };
  };
  afterAll(() => client.connection.close());

  function serveApp() {
    const limiter = new LoginLimiter(loadConfig({}).server.loginLimit, () => t);
    const people = { client, send, users: { alice: createHash('sha256').update(ALICE).digest('hex') }, limiter };
    return peopleApp(people);
  }
  const bearer = (app: Hono, token: string) =>
    app.request('/api/v1/incidents/helm-unstuck/local/ns/rel/decisions', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'approve', reason: 'CI quiet', plan: 'a1b2c3d4e5f6' }),
    });
  const form = (app: Hono, path: string, body: string, headers: Record<string, string> = {}) =>
    app.request(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', host: 'serve.test', ...headers }, body });

  test('a valid token and a valid session are still answered; the bad ones get 429', async () => {
    const app = serveApp();
    const login = await form(app, '/login', `token=${ALICE}`);
    expect(login.status).toBe(303);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;

    for (let i = 0; i < 55; i++) await bearer(app, `guess-${i}`);
    for (let i = 0; i < 55; i++) await form(app, '/login', `token=guess-${i}`);

    expect((await bearer(app, 'one-more-guess')).status).toBe(429);
    expect((await form(app, '/login', 'token=one-more-guess')).status).toBe(429);

    sent.length = 0;
    const decided = await bearer(app, ALICE);
    expect([decided.status, await decided.json()]).toEqual([200, { accepted: true, step: 'approval', by: 'alice', verifiedBy: 'token' }]);
    expect(sent).toHaveLength(1);
    const again = await form(app, '/login', `token=${ALICE}`);
    expect([again.status, again.headers.get('location')]).toEqual([303, '/incidents']);
    // The session is recognised: its logout form is judged on its CSRF token (403), not refused as no session (401) nor limited (429).
    expect((await form(app, '/logout', 'csrf=wrong', { cookie, origin: 'http://serve.test' })).status).toBe(403);

    // And the valid ones did not lift the limit for the guesses.
    expect((await bearer(app, 'still-guessing')).status).toBe(429);
    expect((await form(app, '/login', 'token=still-guessing')).status).toBe(429);
    t += 60_000;
    expect((await bearer(app, 'a-new-window')).status).toBe(401);
  });
});
