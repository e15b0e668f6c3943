// The on-call's loop, end to end (issue 22): `helm-unstuck serve` runs the incident; its approval
// request reaches a receiver standing in for Slack through Debian's real Alertmanager, with the
// page's URL; a person follows that URL, logs in, approves on the page; the resolved notification
// arrives and the release is unstuck. Nothing is posted by hand but what a person would click.
import { createHash, randomBytes } from 'node:crypto';
import { startRemediation } from '../../client/incidents';
import { DECISION_REQUIRED } from '../../decisions/alert-requests';
import { newSecretKey, publicKeyOf } from '../../decisions/decision-proof';
import type { Serving } from '../../server/serve';
import { startAlertmanager, type Alertmanager } from './alertmanager';
import { startAlertReceiver, type AlertReceiver, type Received } from './alert-receiver';
import { markHealthy } from './deployments';
import { helmFor, unique } from './fixtures';
import { ENVIRONMENT, gitlabProject, remediationInput, startRig, trace, type Rig } from './incident-rig';
import { freePort, removeDir, tempDir } from './process';
import { serveOnRig } from './serve-rig';
import { makeStuck } from './stuck';

const ALICE = `alice-${randomBytes(12).toString('hex')}`;
const KEY = newSecretKey();
let rig: Rig;
let receiver: AlertReceiver;
let am: Alertmanager;
let svc: Serving;
let dir: string;
let tq: string;
let project: number;

beforeAll(async () => {
  [rig, receiver] = await Promise.all([startRig(), startAlertReceiver()]);
  am = await startAlertmanager({ webhookUrl: receiver.url, bearerToken: 'receiver-token', groupBy: ['...'] });
  dir = tempDir('from-alert');
  tq = unique('from-alert');
  project = gitlabProject(rig.gitlab).project;
  // serve's external URL is in the links it sends, so its port is chosen first.
  const port = await freePort();
  const config = {
    clusters: { local: { context: 'admin', gitlab: [{ project, environment: ENVIRONMENT }], admissionPolicy: 'not-required' } },
    policy: { approvers: ['alice'], minPendingAge: '0s', escalateAfter: '1h', ciPollInterval: '200ms' },
    decisionKeys: [publicKeyOf(KEY)],
    users: { alice: { tokenSha256: createHash('sha256').update(ALICE).digest('hex') } },
    alertmanager: { url: am.url },
    server: { listen: `127.0.0.1:${port}`, externalUrl: `http://127.0.0.1:${port}`, insecureCookies: true },
  };
  svc = await serveOnRig(rig, { dir, config, taskQueue: tq, decisionKey: KEY });
}, 180_000);
afterAll(async () => {
  await svc?.close();
  await am?.stop();
  await receiver?.stop();
  await rig?.stop();
  await removeDir(dir);
});

const requestOf = (id: string, status: Received['status']) => (a: Received) => a.labels.alertname === DECISION_REQUIRED && a.labels.incident === id && a.status === status;
const hidden = (html: string, name: string): string => new RegExp(`name="${name}" value="([^"]+)"`).exec(html)?.[1] ?? '';

test('the request arrives with the page URL; approving on that page resolves it, and the release is unstuck', async () => {
  const o = { release: unique('web'), namespace: unique('from-alert') };
  await makeStuck['pending-upgrade'](helmFor(3), { ...o, upgradesBefore: 1 });
  await markHealthy(o.namespace);
  rig.gitlab.onRetry = (p, job) => rig.gitlab.setJob(p, job.id, 'success', trace('helmfile-noop.txt'));
  const { handle } = await startRemediation(svc.client, remediationInput(o), tq);

  const asked = await receiver.next(requestOf(handle.workflowId, 'firing'), 60_000);
  expect(asked.annotations.url).toBe(`${svc.url}/incidents/${handle.workflowId}`);
  expect(asked.annotations.plan_digest).toMatch(/^[0-9a-f]{12}$/);

  // The person follows the link: logs in, is sent back to it, and approves what the page shows.
  const path = new URL(asked.annotations.url!).pathname;
  const login = await fetch(`${svc.url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: svc.url },
    body: new URLSearchParams({ token: ALICE, next: path }).toString(),
  });
  expect([login.status, login.headers.get('location')]).toEqual([303, path]);
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  const page = await (await fetch(asked.annotations.url!, { headers: { cookie } })).text();
  expect(hidden(page, 'plan')).toBe(asked.annotations.plan_digest);
  const decided = await fetch(`${asked.annotations.url}/decide`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: svc.url, cookie },
    body: new URLSearchParams({ csrf: hidden(page, 'csrf'), hold: hidden(page, 'hold'), plan: hidden(page, 'plan'), action: 'approve', reason: 'followed the link from the alert' }).toString(),
  });
  expect([decided.status, decided.headers.get('location')]).toEqual([303, path]);

  const done = await receiver.next(requestOf(handle.workflowId, 'resolved'), 60_000);
  expect(done.labels.hold).toBe('approval');
  const r = await handle.result();
  expect(r.outcome).toBe('unstuck-and-verified');
  expect(r.approval).toMatchObject({ by: 'alice', verifiedBy: 'token', via: 'page', reason: 'followed the link from the alert' });
});
