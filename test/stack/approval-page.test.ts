// The approval page, end to end in Chromium on the real stack.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { startRemediation } from '../../client/incidents';
import type { Serving } from '../../server/serve';
import { markHealthy } from './deployments';
import { helmFor, unique } from './fixtures';
import { publicKeyOf } from '../../decisions/decision-proof';
import { gitlabProject, remediationInput, RIG_POLICY, SERVE_KEY, startRig, trace, type Rig } from './incident-rig';
import { removeDir, tempDir } from './process';
import { CHROMIUM, CHROMIUM_ARGS } from './browser';
import { serveOnRig } from './serve-rig';
import { makeStuck } from './stuck';

const ARTIFACTS = join(__dirname, '..', '..', 'test-artifacts');
const ALICE = `alice-${randomBytes(16).toString('hex')}`;
const MALLORY = `mallory-${randomBytes(16).toString('hex')}`;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

let rig: Rig;
let dir: string;
let svc: Serving;
let browser: Browser;
let tq: string;
let project: number;
beforeAll(async () => {
  rig = await startRig();
  dir = tempDir('page');
  tq = unique('page');
  ({ project } = gitlabProject(rig.gitlab));
  const config = {
    clusters: { local: { context: 'admin', gitlab: [{ project, environment: 'gprd' }], admissionPolicy: 'not-required' } },
    // serve signs the page's decisions: nothing unverified is accepted.
    policy: { ...RIG_POLICY, approvers: ['alice'], allowUnverifiedDecisions: false },
    decisionKeys: [publicKeyOf(SERVE_KEY)],
    users: { alice: { tokenSha256: sha(ALICE) }, mallory: { tokenSha256: sha(MALLORY) } },
    // Plain HTTP on loopback, on purpose: the browser gets a cookie without Secure.
    server: { listen: '127.0.0.1:0', insecureCookies: true },
  };
  svc = await serveOnRig(rig, { dir, config, taskQueue: tq, decisionKey: SERVE_KEY });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await svc?.close();
  await rig?.stop();
  await removeDir(dir);
});

async function login(token: string) {
  const ctx = await browser.newContext({ viewport: { width: 1200, height: 1000 } });
  const page = await ctx.newPage();
  await page.goto(`${svc.url}/incidents`);
  expect(new URL(page.url()).pathname).toBe('/login');
  await page.fill('input[name=token]', token);
  await page.click('button[type=submit]');
  return { ctx, page };
}

test('an approver reviews the evidence and approves in the browser; the incident ends unstuck-and-verified, and its page still answers with no worker', async () => {
  const helm = helmFor(3);
  const o = { release: unique('web'), namespace: unique('page') };
  await makeStuck['pending-upgrade'](helm, o);
  await markHealthy(o.namespace);
  // The re-run job stays pending until the test lets it finish, so the page is seen working.
  let rerun: { project: number; id: number } | undefined;
  rig.gitlab.onRetry = (p, job) => (rerun = { project: p, id: job.id });
  const { handle } = await startRemediation(svc.client, remediationInput(o), tq);

  // mallory can log in, but is not an approver: the workflow refuses her, and the page says so.
  // She may open the page before the workflow asks for approval: it reloads itself until then.
  const m = await login(MALLORY);
  await m.page.goto(`${svc.url}/incidents/${handle.workflowId}`);
  await m.page.waitForSelector('#decision', { timeout: 30_000 });
  await m.page.fill('textarea[name=reason]', 'looks fine to me');
  await m.page.click('button[value=approve]');
  expect(await m.page.textContent('.error')).toBe('Not accepted: mallory is not an allowed approver');
  expect(await m.page.locator('meta[http-equiv=refresh]').count()).toBe(0);
  await m.ctx.close();

  const { ctx, page } = await login(ALICE);
  // The list: this incident among those waiting for a human, its cluster named beside its release.
  const held = page.locator('#holds tr', { has: page.locator(`a[href="/incidents/${handle.workflowId}"]`) });
  expect(await held.locator('td.cluster').textContent()).toBe('cluster local');
  expect(await held.locator('td.release').textContent()).toBe(`${o.namespace}/${o.release}`);
  expect(await held.textContent()).toMatch(/approval: waiting for approval by alice .*since \d\d:\d\d UTC \(\d+s ago\)/);
  await page.click(`a[href="/incidents/${handle.workflowId}"]`);
  await page.waitForSelector('#decision');
  // A page waiting for a human never reloads itself: that would wipe a half-written reason.
  expect(await page.locator('meta[http-equiv=refresh]').count()).toBe(0);
  const summary = await page.textContent('#summary');
  expect(summary).toMatch(/CI quiet: no running or pending deploy job/);
  expect(summary).toMatch(/all 1 Deployments healthy/);
  expect(summary).toMatch(/revision 2 has been pending-upgrade .*\(pending for \d+s\)/);
  expect(await page.textContent('#deployments')).toMatch(/-web: healthy \(2 updated, 2 available of 2\)/);
  expect(await page.textContent('#plan')).toMatch(new RegExp(`sh\\.helm\\.release\\.v1\\.${o.release}\\.v2 \\(revision 2, pending-upgrade, uid [0-9a-f-]+\\) → backup helm-unstuck\\.backup\\.${o.release}\\.v2\\.[0-9a-f]{8}`));
  expect(await page.textContent('#where')).toBe(`cluster local ${o.namespace}/${o.release}`);
  expect(await page.locator('#timeline svg g.step[data-step="approval"]').count()).toBe(1);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'approval-page.png'), fullPage: true });

  await page.fill('textarea[name=reason]', 'CI quiet, Deployments healthy, revision 2 is what runs');
  await page.click('button[value=approve]');
  // Approved: the page follows the workflow on its own, through the re-run job, to its end.
  await page.locator('p.wait', { hasText: /^Working: waiting for CI job \d+ \(pending\) to finish$/ }).waitFor({ timeout: 30_000 });
  expect(await page.locator('meta[http-equiv=refresh]').getAttribute('content')).toBe(`3; url=/incidents/${handle.workflowId}`);
  rig.gitlab.setJob(rerun!.project, rerun!.id, 'success', trace('helmfile-noop.txt'));
  const result = await handle.result();
  expect(result).toMatchObject({ outcome: 'unstuck-and-verified', approval: { by: 'alice', action: 'approve', reason: 'CI quiet, Deployments healthy, revision 2 is what runs', verifiedBy: 'token', via: 'page' } });
  await page.locator('#summary', { hasText: 'unstuck-and-verified' }).waitFor({ timeout: 30_000 });
  expect(await page.locator('meta[http-equiv=refresh]').count()).toBe(0);
  // Where the time went: alice's wait apart from machine time, her decision and the verification marked.
  expect(await page.locator('#timeline svg title', { hasText: /^approval, waiting for a human: / }).count()).toBe(1);
  expect([await page.locator('#timeline line.decision').count(), await page.locator('#timeline line.verified').count()]).toEqual([1, 1]);
  await page.screenshot({ path: join(ARTIFACTS, 'approval-page-ended.png'), fullPage: true });
  // Ended, its page is read from its history: it answers with no worker polling at all.
  await svc.worker!.shutdown();
  const ended = await page.goto(`${svc.url}/incidents/${handle.workflowId}`);
  expect(ended?.status()).toBe(200);
  expect(await page.textContent('#summary')).toMatch(/unstuck-and-verified: /);
  expect(await page.textContent('#approvals')).toMatch(/alice .*approved/);
  await ctx.close();
});

test('forms need the session and its CSRF token; bad logins are refused', async () => {
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${svc.url}${path}`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });
  expect((await post('/login', `token=${MALLORY}x`)).status).toBe(401);
  const ok = await post('/login', `token=${ALICE}`);
  expect(ok.status).toBe(303);
  const cookie = ok.headers.get('set-cookie')!;
  expect(cookie).toMatch(/HttpOnly; SameSite=Strict/);
  const session = cookie.split(';')[0]!;
  const id = 'helm-unstuck/local/none/none';
  expect((await post(`/incidents/${id}/decide`, 'action=approve&reason=x')).status).toBe(401);
  expect((await post(`/incidents/${id}/decide`, 'action=approve&reason=x&csrf=forged', { cookie: session })).status).toBe(403);
  const page = await (await fetch(`${svc.url}/incidents`, { headers: { cookie: session } })).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
  expect((await post(`/incidents/${id}/decide`, `action=approve&reason=x&csrf=${csrf}`, { cookie: session, origin: 'https://evil.example' })).status).toBe(403);
  const tampered = session.replace(/\.[^.]+$/, '.AAAA');
  expect((await fetch(`${svc.url}/incidents`, { headers: { cookie: tampered }, redirect: 'manual' })).status).toBe(303);
  const headers = (await fetch(`${svc.url}/login`)).headers;
  expect(headers.get('content-security-policy')).toMatch(/default-src 'none'.*frame-ancestors 'none'/);
  expect(headers.get('x-frame-options')).toBe('DENY');
  expect(headers.get('referrer-policy')).toBe('same-origin');
});
