// serve's HTTP server limits over real sockets (listenHttp, as serve runs it), and what serve
// refuses to start with (decisionKeyProblems).
import type { Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { Hono } from 'hono';
import { Registry } from 'prom-client';
import { newSecretKey, publicKeyOf } from '../../decisions/decision-proof';
import { loadConfig } from '../../lib/config';
import { decisionKeyProblems, listenHttp } from '../../server/serve';
import { waitFor } from '../wait-for';

// Like the webhook, it reads the whole body before answering.
const app = new Hono().get('/refused', (c) => c.text('no', 401)).all('*', async (c) => c.text(`read ${(await c.req.text()).length} bytes`));
const TOKEN = 'guard-test-token';
let server: Server;
let port: number;
beforeAll(async () => {
  const defaults = loadConfig({}).server;
  server = await listenHttp(app.fetch, { ...defaults, listen: '127.0.0.1:0', headersTimeoutMs: 1000, requestTimeoutMs: 2000, keepAliveTimeoutMs: 1000, maxConnections: 4 });
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((ok) => server.close(ok));
});

/** A raw connection: what it received, and when the server closed it (ms after opening). */
function open(at = port): Promise<{ socket: Socket; closed: Promise<{ afterMs: number; received: string }> }> {
  return new Promise((ok, fail) => {
    const start = Date.now();
    let received = '';
    const socket = connect(at, '127.0.0.1');
    const closed = new Promise<{ afterMs: number; received: string }>((done) => socket.on('close', () => done({ afterMs: Date.now() - start, received })));
    socket.on('data', (d) => (received += d.toString()));
    socket.on('error', () => undefined);
    socket.once('connect', () => ok({ socket, closed }));
    socket.once('error', fail);
  });
}

test('headers that never finish: 408 and closed after headersTimeout', async () => {
  const { socket, closed } = await open();
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
  const r = await closed;
  expect(r.received).toMatch(/^HTTP\/1\.1 408 /);
  expect(r.afterMs).toBeGreaterThanOrEqual(900);
  expect(r.afterMs).toBeLessThan(4000);
});

test('a body trickled forever: 408 and closed after requestTimeout', async () => {
  const { socket, closed } = await open();
  socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n');
  const drip = setInterval(() => socket.writable && socket.write('x'), 200);
  const r = await closed;
  clearInterval(drip);
  expect(r.received).toMatch(/HTTP\/1\.1 408 /);
  expect(r.afterMs).toBeGreaterThanOrEqual(1900);
  expect(r.afterMs).toBeLessThan(5000);
});

test('an idle keep-alive connection is closed after keepAliveTimeout', async () => {
  const { socket, closed } = await open();
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  const r = await closed;
  expect(r.received).toMatch(/^HTTP\/1\.1 200 /);
  expect(r.afterMs).toBeGreaterThanOrEqual(900);
  expect(r.afterMs).toBeLessThan(4000);
});

/** Write a request and resolve on the first bytes of its answer. */
function answered(socket: Socket, request: string): Promise<string> {
  return new Promise((ok) => {
    socket.once('data', (d) => ok(d.toString()));
    socket.write(request);
  });
}

describe('the connection guard', () => {
  const lines: string[] = [];
  const registry = new Registry();
  let guarded: Server;
  let at: number;
  // Keep-alive long enough that only the guard closes anything here.
  const settings = { maxConnections: 4, keepAliveTimeoutMs: 60_000, unauthenticatedIdleTimeoutMs: 60_000, webhookToken: TOKEN };
  beforeAll(async () => {
    guarded = await listenHttp(app.fetch, { ...loadConfig({}).server, listen: '127.0.0.1:0', ...settings }, { registry, log: (l) => lines.push(l) });
    at = (guarded.address() as AddressInfo).port;
  });
  afterAll(async () => {
    guarded.closeAllConnections();
    await new Promise((ok) => guarded.close(ok));
  });
  const accepted = () => new Promise<number>((ok, fail) => guarded.getConnections((err, n) => (err ? fail(err) : ok(n))));
  const shed = async (reason: string) => (await registry.getSingleMetric('helm_unstuck_connections_shed_total')!.get()).values.find((v) => v.labels.reason === reason)?.value;

  test('past maxConnections, the oldest idle unauthenticated connection makes room; with none idle, the new one is closed', async () => {
    const held = await Promise.all([open(at), open(at), open(at), open(at)]);
    // Connected is not yet accepted: the server must hold all four before the fifth comes.
    await waitFor('the server holding the four connections', accepted, (n) => n >= 4);
    const fifth = await open(at);
    // The oldest of the four idle ones went, not the newcomer, which is answered.
    expect(await Promise.race(held.map((h, i) => h.closed.then(() => i)))).toBe(0);
    fifth.socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect((await fifth.closed).received).toMatch(/^HTTP\/1\.1 200 /);
    // Four again, each having sent a request with the webhook's token: none of them can be shed.
    const kept = [...held.slice(1), await open(at)];
    await Promise.all(kept.map((h) => answered(h.socket, `GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`)));
    const extra = await open(at);
    const r = await extra.closed;
    expect([r.received, r.afterMs < 900]).toEqual(['', true]);
    expect([await shed('evicted'), await shed('refused')]).toEqual([1, 1]);
    // One line for the client: the second shed falls in the same interval.
    expect(lines.filter((l) => l.startsWith('shed connection(s) from 127.0.0.1'))).toEqual([expect.stringContaining('(1 evicted)')]);
    for (const h of kept) h.socket.destroy();
    await waitFor('the guarded server holding nothing', accepted, (n) => n === 0);
  });

  test('every 4xx is logged once, with what was asked and the status, never the query or token', async () => {
    const { socket, closed } = await open(at);
    socket.write('GET /refused?secret=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\nConnection: close\r\n\r\n');
    expect((await closed).received).toMatch(/^HTTP\/1\.1 401 /);
    await waitFor('the 401 logged', () => lines.filter((l) => l.startsWith('answered 4')), (l) => l.length > 0);
    expect(lines.filter((l) => l.startsWith('answered 4'))).toEqual(['answered 401 Unauthorized to GET "/refused" from 127.0.0.1']);
    expect(lines.join('\n')).not.toMatch(/wrong|secret/);
  });
});

describe('decisionKeyProblems', () => {
  const key = newSecretKey();
  const users = { alice: 'a'.repeat(64) };
  const sso = { issuer: 'https://sso.example/', clientId: 'c', groupsClaim: 'groups', algorithms: ['RS256'] };
  test.each<[string, Parameters<typeof decisionKeyProblems>[0], RegExp | undefined]>([
    ['nobody decides through serve: no key needed', { users: {}, decisionKeys: [] }, undefined],
    ['users without a key', { users, decisionKeys: [] }, /^HELM_UNSTUCK_DECISION_KEY \(or _FILE\) is required with users or sso/],
    ['sso without a key', { users: {}, sso, decisionKeys: [publicKeyOf(key)] }, /is required with users or sso/],
    ['a key the workflow does not trust', { users, decisionKey: key, decisionKeys: [publicKeyOf(newSecretKey())] }, new RegExp(`^decisionKeys does not list ${publicKeyOf(key)}, the public key of HELM_UNSTUCK_DECISION_KEY`)],
    ['a trusted key', { users, sso, decisionKey: key, decisionKeys: [publicKeyOf(newSecretKey()), publicKeyOf(key)] }, undefined],
  ])('%s', (_w, config, problem) => {
    const problems = decisionKeyProblems(config);
    if (problem) expect(problems).toEqual([expect.stringMatching(problem)]);
    else expect(problems).toEqual([]);
  });
});
