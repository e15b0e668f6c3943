// The whole chain, nothing posted by hand: helm killed mid-upgrade leaves a record pending; serve's
// detector exports it; a real Prometheus scrapes serve and evaluates the shipped rule; a real
// Alertmanager posts to serve's webhook with the bearer token; the incident starts. After the
// unlock the series disappears, the alert resolves, and the resolved notification reaches the
// incident. Its own control plane, so no other test's stuck release can raise an alert here.
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Kube } from '../../activities/kubernetes';
import { newSecretKey, publicKeyOf } from '../../decisions/decision-proof';
import { workflowIdFor } from '../../decisions/vocabulary';
import type { Serving } from '../../server/serve';
import { WEBHOOK_PATH } from '../../server/http';
import { startAlertmanager, type Alertmanager } from './alertmanager';
import { startControlPlane, type ControlPlane } from './control-plane';
import { markHealthy } from './deployments';
import { unique } from './fixtures';
import { Helm } from './helm';
import { startRig, waitForStatus, type Rig } from './incident-rig';
import { removeDir, tempDir, waitUntil } from './process';
import { startPrometheus, type Prometheus } from './prometheus';
import { serveOnRig } from './serve-rig';
import { sharedStack } from './shared';
import { makeStuck } from './stuck';

const TOKEN = `webhook-${randomBytes(12).toString('hex')}`;
/** alice's login token for the approval page, where the alert's incident_url leads. */
const ALICE = `alice-${randomBytes(12).toString('hex')}`;
const SERVE_KEY = newSecretKey();
const MIN_AGE_SECONDS = 3;
let cp: ControlPlane;
let rig: Rig;
let dir: string;
let svc: Serving;
let am: Alertmanager;
let prom: Prometheus;

beforeAll(async () => {
  const bins = sharedStack().binaries;
  dir = tempDir('chain');
  [cp, rig] = await Promise.all([startControlPlane({ etcdBin: bins.etcd, apiserverBin: bins.kubeApiserver, dir: join(dir, 'kube') }), startRig()]);
  rig.gitlab.addProject(1, 'ops/k8s-workloads');
  const config = {
    clusters: { e2e: { context: 'admin', gitlab: [{ project: 1, environment: 'e2e' }] } },
    policy: { approvers: ['alice'], minPendingAge: '0s', escalateAfter: '1h' },
    server: { listen: '127.0.0.1:0', insecureCookies: true },
    users: { alice: { tokenSha256: createHash('sha256').update(ALICE).digest('hex') } },
    decisionKeys: [publicKeyOf(SERVE_KEY)],
    kubeconfig: cp.kubeconfig,
  };
  svc = await serveOnRig(rig, { dir, config, taskQueue: unique('chain'), webhookToken: TOKEN, decisionKey: SERVE_KEY });
  am = await startAlertmanager({ webhookUrl: `${svc.url}${WEBHOOK_PATH}`, bearerToken: TOKEN });
  prom = await startPrometheus({ target: new URL(svc.url).host, alertmanager: new URL(am.url).host, rules: { minAgeSeconds: MIN_AGE_SECONDS, for: '1s', externalUrl: svc.url } });
}, 180_000);

afterAll(async () => {
  await prom?.stop();
  await am?.stop();
  await svc?.close();
  await rig?.stop();
  await cp?.stop();
  await removeDir(dir);
});

test('a release stuck by a killed helm becomes an incident; the unlock resolves the alert and the incident hears it', async () => {
  const helm = new Helm(3, sharedStack().binaries.helm3, cp.kubeconfig, join(dir, 'helm'));
  const o = { release: unique('shop'), namespace: unique('chain') };
  const stuck = await makeStuck['pending-upgrade'](helm, o);
  await markHealthy(o.namespace, cp.kubeconfig);
  const series = `helm_unstuck_release_pending_since_seconds{cluster="e2e",namespace="${o.namespace}",release="${o.release}",revision="${stuck.pendingRevision}",status="pending-upgrade"}`;
  expect(await (await fetch(`${svc.url}/metrics`)).text()).toContain(series);
  const health = (await (await fetch(`${svc.url}/healthz`)).json()) as { detector: Record<string, { inSync: boolean; stuckReleases: number }> };
  expect(health.detector.e2e).toMatchObject({ inSync: true, stuckReleases: 1 });

  // Prometheus fires the shipped rule with the labels the receiver maps; Alertmanager posts it.
  await waitUntil('HelmReleaseStuck firing in Prometheus', async () => (await prom.alerts()).some((a) => a.labels.alertname === 'HelmReleaseStuck' && a.state === 'firing'), { timeoutMs: 60_000, intervalMs: 250 });
  const [alert] = (await prom.alerts()).filter((a) => a.labels.alertname === 'HelmReleaseStuck');
  expect(alert!.labels).toEqual({ alertname: 'HelmReleaseStuck', severity: 'warning', cluster: 'e2e', namespace: o.namespace, label_name: o.release, label_version: String(stuck.pendingRevision), status: 'pending-upgrade' });
  const handle = svc.client.workflow.getHandle(workflowIdFor('e2e', o.namespace, o.release));
  const waiting = await waitForStatus(handle as never, (s) => s.hold === 'approval', 60_000);
  expect(waiting.evidence[0]?.summary).toMatch(/^started by alertmanager \(alert [0-9a-f]+\): Helm release .* is stuck pending-upgrade/);

  // The page the alert links to: logged in, it leads to the incident waiting for a human.
  const incidentUrl = alert!.annotations.incident_url!;
  expect(incidentUrl).toBe(`${svc.url}/releases/e2e/${o.namespace}/${o.release}`);
  const login = await fetch(`${svc.url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: svc.url },
    body: new URLSearchParams({ token: ALICE, next: new URL(incidentUrl).pathname }).toString(),
  });
  expect([login.status, login.headers.get('location')]).toEqual([303, new URL(incidentUrl).pathname]);
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  const followed = await fetch(incidentUrl, { redirect: 'manual', headers: { cookie } });
  expect([followed.status, followed.headers.get('location')]).toEqual([303, `/incidents/${handle.workflowId}`]);
  const page = await fetch(new URL(followed.headers.get('location')!, svc.url), { headers: { cookie } });
  expect(page.status).toBe(200);
  expect(await page.text()).toContain(o.release);

  // An operator unlocks by hand, as the runbook says: delete exactly the pending record.
  const kube = Kube.fromKubeconfig({ file: cp.kubeconfig });
  const name = `sh.helm.release.v1.${o.release}.v${stuck.pendingRevision}`;
  const rec = (await kube.getRecord('Secret', o.namespace, name))!;
  await kube.deleteRecord('Secret', o.namespace, name, { uid: rec.uid, resourceVersion: rec.resourceVersion });
  await waitUntil('the series gone from /metrics', async () => !(await (await fetch(`${svc.url}/metrics`)).text()).includes(`release="${o.release}"`), { timeoutMs: 10_000, intervalMs: 50 });

  const result = await handle.result();
  expect(result.outcome).toBe('nothing-to-do');
  expect(result.reason).toMatch(/the alert resolved and the release is no longer stuck/);
  expect(result.evidence.map((e: { summary: string }) => e.summary).join('\n')).toMatch(/alert [0-9a-f]+ resolved/);
  expect(result.unlock).toBeUndefined();
  expect((await prom.alerts()).filter((a) => a.labels.alertname === 'HelmReleaseStuck')).toEqual([]);
  expect(await helm.run(['upgrade', o.release, join(__dirname, '..', 'fixtures', 'charts', 'tiny'), '-n', o.namespace])).toMatchObject({ code: 0 });
});
