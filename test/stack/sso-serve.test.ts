// serve behind oauth2-proxy and a real OpenID provider, in real Chromium, deciding on genuinely
// stuck releases through a real worker and Temporal: identities serve verified (the ID token's
// signature; a user token), decisions signed by serve, the operator's policy judging them.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { EXIT, main } from '../../cli/main';
import { notifyAlert, startRemediation } from '../../client/incidents';
import { publicKeyOf } from '../../decisions/decision-proof';
import type { Serving } from '../../server/serve';
import { statusQuery } from '../../workflows/definitions';
import { CHROMIUM, CHROMIUM_ARGS } from './browser';
import { markHealthy } from './deployments';
import { helmFor, unique } from './fixtures';
import { gitlabProject, remediationInput, RIG_POLICY, SERVE_KEY, startRig, trace, waitForStatus, type Rig } from './incident-rig';
import { freePort, removeDir, tempDir } from './process';
import { relabelPending } from './records';
import { serveOnRig } from './serve-rig';
import { startSso, type Sso, type SsoUser } from './sso';
import { makeStuck } from './stuck';

const ARTIFACTS = join(__dirname, '..', '..', 'test-artifacts');
const password = () => randomBytes(12).toString('hex');
// alice approves as a member of helm-approvers; dave signs in fine but is in no approving group.
const ALICE: SsoUser = { username: 'alice', password: password(), email: 'alice@example.test', groups: ['sre', 'helm-approvers'] };
const DAVE: SsoUser = { username: 'dave', password: password(), email: 'dave@example.test', groups: ['sre'] };
// bob is an approver by name, with a user token (the CLI's HTTP path).
const BOB = `bob-${randomBytes(16).toString('hex')}`;
const FORGED = { 'x-forwarded-user': 'alice', 'x-forwarded-email': 'alice@example.test', 'x-forwarded-preferred-username': 'alice', 'x-forwarded-groups': 'helm-approvers' };
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

let rig: Rig;
let dir: string;
let sso: Sso;
let svc: Serving;
let browser: Browser;
let tq: string;
beforeAll(async () => {
  rig = await startRig();
  dir = tempDir('sso-serve');
  tq = unique('sso');
  // oauth2-proxy needs serve's address, serve the provider's: serve's port is chosen first.
  const port = await freePort();
  sso = await startSso({ upstream: `http://127.0.0.1:${port}`, users: [ALICE, DAVE], dir });
  const gitlab = () => [{ project: gitlabProject(rig.gitlab).project, environment: 'gprd' }];
  const config = {
    clusters: {
      solo: { context: 'admin', gitlab: gitlab(), admissionPolicy: 'not-required' },
      pair: { context: 'admin', gitlab: gitlab(), policy: { approvals: 2 }, admissionPolicy: 'not-required' },
    },
    policy: { ...RIG_POLICY, approvers: ['group:helm-approvers', 'bob'], allowUnverifiedDecisions: false },
    decisionKeys: [publicKeyOf(SERVE_KEY)],
    users: { bob: { tokenSha256: sha(BOB) } },
    sso: { issuer: sso.issuer, clientId: sso.clientId },
    server: { listen: `127.0.0.1:${port}` },
  };
  svc = await serveOnRig(rig, { dir, config, taskQueue: tq, decisionKey: SERVE_KEY, withDetector: false });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  rig.gitlab.onRetry = (p, job) => rig.gitlab.setJob(p, job.id, 'success', trace('helmfile-noop.txt'));
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await svc?.close();
  await sso?.stop();
  await rig?.stop();
  if (dir) await removeDir(dir);
});

async function stuckIncident(cluster: 'solo' | 'pair') {
  const o = { release: unique('web'), namespace: unique('sso') };
  await makeStuck['pending-upgrade'](helmFor(3), { ...o, upgradesBefore: 1 });
  await markHealthy(o.namespace);
  const { handle } = await startRemediation(svc.client, { ...remediationInput(o), cluster }, tq);
  await waitForStatus(handle, (s) => s.hold === 'approval');
  return { o, handle, id: handle.workflowId };
}

/** Signed in at the provider through oauth2-proxy, on the incident's page. */
async function signedIn(user: SsoUser, id: string): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1200, height: 1000 } });
  const page = await ctx.newPage();
  await page.goto(`${sso.proxyUrl}/incidents/${id}`);
  expect(page.url().startsWith(`${sso.issuer}login/username?authRequestID=`)).toBe(true);
  await page.fill('input[name=username]', user.username);
  await page.fill('input[name=password]', user.password);
  await page.click('button[type=submit]');
  await page.waitForURL(`${sso.proxyUrl}/incidents/${id}`);
  await page.waitForSelector('#decision');
  return page;
}

async function decideOnPage(page: Page, action: 'approve' | 'reject', reason: string): Promise<void> {
  await page.fill('textarea[name=reason]', reason);
  await page.click(`button[value=${action}]`);
  await page.waitForLoadState();
}

/** `helm-unstuck <argv>` in-process, through serve with bob's token unless `env` says otherwise. */
async function cli(argv: string[], env: NodeJS.ProcessEnv = { HELM_UNSTUCK_SERVER_URL: svc.url, HELM_UNSTUCK_USER_TOKEN: BOB }) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s), env });
  return { code, out, err };
}

test('through oauth2-proxy in Chromium: a non-approver is refused, a group approver approves; the decision is recorded under the SSO identity', async () => {
  const { handle, id } = await stuckIncident('solo');

  const dave = await signedIn(DAVE, id);
  expect(await dave.textContent('#viewer')).toBe('dave (single sign-on: sre)');
  // No login form behind single sign-on.
  expect(await dave.locator('input[name=token]').count()).toBe(0);
  await decideOnPage(dave, 'approve', 'looks fine to me');
  expect(await dave.textContent('.error')).toBe('Not accepted: dave is not an allowed approver');
  await dave.context().close();

  const alice = await signedIn(ALICE, id);
  const digest = await alice.textContent('#plan-digest');
  expect(digest).toMatch(/^[0-9a-f]{12}$/);
  mkdirSync(ARTIFACTS, { recursive: true });
  await alice.screenshot({ path: join(ARTIFACTS, 'approval-page-sso.png'), fullPage: true });
  await decideOnPage(alice, 'approve', 'CI quiet, Deployments healthy');
  expect(await alice.locator('.error').count()).toBe(0);
  const result = await handle.result();
  expect(result.outcome).toBe('unstuck-and-verified');
  expect(result.approval).toMatchObject({ action: 'approve', by: 'alice', plan: digest, verifiedBy: 'sso', via: 'page', groups: ['sre', 'helm-approvers'] });
  await alice.context().close();
});

test('forged headers and a wrong token get nothing; two-person rule on the page and the CLI; a decision on an older plan is refused with the new plan shown', async () => {
  const { o, handle, id } = await stuckIncident('pair');
  const older = (await handle.query(statusQuery)).view.plan!.digest;

  // Straight to serve with forged identity headers (no ID token): nothing, on the page or the API.
  for (const path of [`/incidents/${id}`, `/api/v1/incidents/${id}`]) expect((await fetch(`${svc.url}${path}`, { headers: FORGED })).status).toBe(401);
  const form = await fetch(`${svc.url}/incidents/${id}/decide`, { method: 'POST', headers: { ...FORGED, origin: svc.url, 'content-type': 'application/x-www-form-urlencoded' }, body: `action=approve&reason=x&plan=${older}` });
  expect(form.status).toBe(401);
  const api = await fetch(`${svc.url}/api/v1/incidents/${id}/decisions`, { method: 'POST', headers: { ...FORGED, 'content-type': 'application/json' }, body: JSON.stringify({ action: 'approve', reason: 'x', plan: older }) });
  expect(api.status).toBe(401);
  // The CLI with a wrong token: 401, nothing sent.
  expect(await cli(['approve', id, '--reason', 'x'], { HELM_UNSTUCK_SERVER_URL: svc.url, HELM_UNSTUCK_USER_TOKEN: `${BOB}x` })).toMatchObject({
    code: EXIT.error,
    err: expect.stringMatching(/helm-unstuck serve refused your user token/),
  });
  // Straight to Temporal: unverified, and this operator accepts only what serve signed.
  const raw = await cli(['approve', id, '--by', 'bob', '--reason', 'x', '--yes'], { TEMPORAL_ADDRESS: rig.env.address });
  expect(raw).toMatchObject({ code: EXIT.error, err: expect.stringMatching(/deciding straight through Temporal, as an unverified "bob"[^]*refused: bob's identity not verified/) });
  expect((await handle.query(statusQuery)).approvals).toEqual([]);

  // alice has the page open on the plan as it is now; bob approves it through the CLI.
  const alice = await signedIn(ALICE, id);
  expect(await alice.textContent('#plan-digest')).toBe(older);
  const first = await cli(['approve', id, '--reason', 'CI quiet', '--yes']);
  expect(first).toMatchObject({ code: EXIT.ok, out: `approve accepted by incident ${id} (at step approval), as bob (verified by token, through serve)\n` });
  expect(first.err).toContain(`waits at the approval gate; this sends approve on plan ${older}: back up and delete sh.helm.release.v1.${o.release}.v3`);

  // The pending record changes (another operator touched it) and the alert resolves: a new plan.
  await relabelPending(o.namespace, `sh.helm.release.v1.${o.release}.v3`);
  await notifyAlert(svc.client, id, { status: 'resolved', fingerprint: 'sso-1' });
  const now = await waitForStatus(handle, (s) => !!s.view.plan && s.view.plan.digest !== older);
  const newer = now.view.plan!.digest;

  // alice approves what her page still shows: refused, and the page shows the new plan.
  await decideOnPage(alice, 'approve', 'as shown');
  expect(await alice.textContent('.error')).toMatch(new RegExp(`^Not accepted: the plan changed since you looked: now ${newer}: `));
  expect(await alice.textContent('#plan-digest')).toBe(newer);
  // bob names the older plan through the CLI: refused before sending, and shown the new one.
  const stale = await cli(['approve', id, '--reason', 'saw it earlier', '--plan', older]);
  expect(stale).toMatchObject({ code: EXIT.error, err: expect.stringContaining(`--plan ${older} is not the plan the incident shows now (${newer}): nothing was sent`) });
  expect(stale.err).toContain(`this sends approve on plan ${newer}: back up and delete sh.helm.release.v1.${o.release}.v3`);

  // The new plan: bob approves; bob again is refused (two distinct people); alice's page shows it.
  expect(await cli(['approve', id, '--reason', 'the new plan is right', '--plan', newer])).toMatchObject({ code: EXIT.ok });
  expect(await cli(['approve', id, '--reason', 'me again', '--yes'])).toMatchObject({ code: EXIT.error, err: expect.stringContaining('refused: bob has already approved this plan; another approver must give the next approval') });
  await alice.reload();
  expect(await alice.textContent('#decision')).toMatch(/1 of 2 approvals: bob \(token\)/);
  expect(await alice.textContent('#approvals')).toMatch(new RegExp(`bob \\(token\\) approved plan ${newer} via api at [0-9:]+: the new plan is right`));
  await decideOnPage(alice, 'approve', 'second pair of eyes');
  const result = await handle.result();
  expect(result.outcome).toBe('unstuck-and-verified');
  expect(result.approvals?.map((a) => [a.by, a.verifiedBy, a.via, a.plan])).toEqual([
    ['bob', 'token', 'api', older],
    ['bob', 'token', 'api', newer],
    ['alice', 'sso', 'page', newer],
  ]);
  await alice.context().close();
});
