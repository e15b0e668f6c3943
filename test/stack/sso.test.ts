// Single sign-on in real Chromium: oauth2-proxy in front of an upstream, with a real OpenID
// provider. What the upstream sees is what `serve` will see once it trusts the proxy (issue 15).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from './browser';
import { binaries, removeDir, tempDir } from './process';
import { startSso, type Sso, type SsoUser } from './sso';

const ARTIFACTS = join(__dirname, '..', '..', 'test-artifacts');
const ALICE: SsoUser = { username: 'alice', password: randomBytes(12).toString('hex'), email: 'alice@example.test', groups: ['sre', 'helm-approvers'] };
const BOB: SsoUser = { username: 'bob', password: randomBytes(12).toString('hex'), email: 'bob@example.test', groups: [] };
const FORGED = { 'X-Forwarded-User': 'mallory', 'X-Forwarded-Email': 'mallory@example.test', 'X-Forwarded-Groups': 'helm-approvers' };

let dir: string;
let upstream: HttpServer;
let upstreamUrl: string;
/** Every request the upstream received, by the path it asked for. */
const seen = new Map<string, IncomingHttpHeaders>();
let sso: Sso;
let browser: Browser;

beforeAll(async () => {
  dir = tempDir('sso');
  upstream = createServer((req, res) => {
    seen.set(req.url ?? '', req.headers);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(req.headers));
  });
  await new Promise<void>((ok) => upstream.listen(0, '127.0.0.1', ok));
  const addr = upstream.address();
  if (!addr || typeof addr === 'string') throw new Error('upstream has no port');
  upstreamUrl = `http://127.0.0.1:${addr.port}`;
  sso = await startSso({ upstream: upstreamUrl, users: [ALICE, BOB], dir });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await sso?.stop();
  await new Promise((ok) => upstream?.close(ok));
  if (dir) await removeDir(dir);
});

async function signIn(user: SsoUser, path: string) {
  const ctx = await browser.newContext({ viewport: { width: 900, height: 600 } });
  const page = await ctx.newPage();
  await page.goto(`${sso.proxyUrl}${path}`);
  // No "sign in with" button: straight to the provider's login page.
  expect(page.url().startsWith(`${sso.issuer}login/username?authRequestID=`)).toBe(true);
  return { ctx, page, submit: async (password = user.password) => {
    await page.fill('input[name=username]', user.username);
    await page.fill('input[name=password]', password);
    await page.click('button[type=submit]');
  } };
}

test('a user signs in at the provider in Chromium; the upstream sees their identity and groups', async () => {
  const { ctx, page, submit } = await signIn(ALICE, '/incidents/one');
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'sso-provider-login.png'), fullPage: true });

  await submit('not-her-password');
  await expect(page.textContent('body')).resolves.toContain('username or password wrong');
  expect(seen.has('/incidents/one')).toBe(false);

  await submit();
  await page.waitForURL(`${sso.proxyUrl}/incidents/one`);
  const headers = seen.get('/incidents/one');
  expect(headers).toMatchObject({
    'x-forwarded-user': 'alice',
    'x-forwarded-email': 'alice@example.test',
    'x-forwarded-preferred-username': 'alice',
    'x-forwarded-groups': 'sre,helm-approvers',
  });
  // --pass-authorization-header: the ID token itself, for the upstream to verify.
  expect(headers?.authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
  await ctx.close();
});

test('a user without groups gets no groups; the other user is not confused with them', async () => {
  const { ctx, page, submit } = await signIn(BOB, '/incidents/bob');
  await submit();
  await page.waitForURL(`${sso.proxyUrl}/incidents/bob`);
  const headers = seen.get('/incidents/bob');
  expect(headers).toMatchObject({ 'x-forwarded-user': 'bob', 'x-forwarded-email': 'bob@example.test' });
  expect(headers?.['x-forwarded-groups'] ?? '').toBe('');
  await ctx.close();
});

test('identity headers a client sends are replaced by the proxy, or never reach the upstream', async () => {
  // Signed in as alice, claiming to be mallory: the upstream hears alice.
  const { ctx, page, submit } = await signIn(ALICE, '/forged/signed-in');
  await submit();
  await page.waitForURL(`${sso.proxyUrl}/forged/signed-in`);
  const res = await ctx.request.get(`${sso.proxyUrl}/forged/again`, { headers: FORGED });
  expect(res.status()).toBe(200);
  expect(seen.get('/forged/again')).toMatchObject({
    'x-forwarded-user': 'alice',
    'x-forwarded-email': 'alice@example.test',
    'x-forwarded-groups': 'sre,helm-approvers',
  });
  await ctx.close();

  // Not signed in: the proxy sends the client to sign in and forwards nothing.
  const anonymous = await fetch(`${sso.proxyUrl}/forged/anonymous`, { headers: FORGED, redirect: 'manual' });
  expect(anonymous.status).toBe(302);
  expect(anonymous.headers.get('location')).toMatch(new RegExp(`^${sso.issuer}auth\\?`));
  expect(seen.has('/forged/anonymous')).toBe(false);

  // Straight to the upstream, the forged headers arrive untouched: the headers alone prove
  // nothing, so `serve` must accept them only from the proxy (issue 15, next step).
  await fetch(`${upstreamUrl}/forged/direct`, { headers: FORGED });
  expect(seen.get('/forged/direct')).toMatchObject({ 'x-forwarded-user': 'mallory' });
});

test('the test provider refuses to listen anywhere but loopback', async () => {
  const { oidcProvider } = await binaries();
  const run = promisify(execFile);
  const args = ['-client-id', 'c', '-redirect-uri', 'http://127.0.0.1:1/cb', '-users-file', '/dev/null'];
  const env = { ...process.env, OIDC_PROVIDER_CLIENT_SECRET: 's' };
  await expect(run(oidcProvider, ['-issuer', 'http://0.0.0.0:1/', ...args], { env })).rejects.toMatchObject({
    stderr: expect.stringContaining('listens on a loopback IP only'),
  });
});
