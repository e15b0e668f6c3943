// serve's HTTP server limits over real sockets (listenHttp, as serve runs it), and what serve
// refuses to start with (decisionKeyProblems).
import type { Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { Hono } from 'hono';
import { newSecretKey, publicKeyOf } from '../../decisions/decision-proof';
import { loadConfig } from '../../lib/config';
import { decisionKeyProblems, listenHttp } from '../../server/serve';
import { waitFor } from '../wait-for';

// Like the webhook, it reads the whole body before answering.
const app = new Hono().all('*', async (c) => c.text(`read ${(await c.req.text()).length} bytes`));
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
function open(): Promise<{ socket: Socket; closed: Promise<{ afterMs: number; received: string }> }> {
  return new Promise((ok, fail) => {
    const start = Date.now();
    let received = '';
    const socket = connect(port, '127.0.0.1');
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

test('past maxConnections, a new connection is closed at once; the others still work', async () => {
  const held = await Promise.all([open(), open(), open(), open()]);
  // Connected is not yet accepted: the server must hold all four before the fifth comes.
  const accepted = () => new Promise<number>((ok, fail) => server.getConnections((err, n) => (err ? fail(err) : ok(n))));
  await waitFor('the server holding the four connections', accepted, (n) => n >= 4);
  const extra = await open();
  const r = await extra.closed;
  expect([r.received, r.afterMs < 900]).toEqual(['', true]);
  held[0]!.socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  expect((await held[0]!.closed).received).toMatch(/^HTTP\/1\.1 200 /);
  for (const h of held) h.socket.destroy();
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
