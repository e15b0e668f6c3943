// Namespaced mode, detection included: the chart installed with rbac.mode=namespaced grants a Role
// in each listed namespace and nothing cluster-wide. serve runs as that ServiceAccount with the
// cluster's `namespaces` set, so its detector lists and watches in each namespace (a cluster-wide
// list would be refused and the detector never in sync). A stuck release in the listed namespace
// becomes an incident through a real Prometheus with the shipped rule and a real Alertmanager; one
// stuck in a namespace not listed is neither seen nor alerted on.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { workflowIdFor } from '../../decisions/vocabulary';
import type { Serving } from '../../server/serve';
import { WEBHOOK_PATH } from '../../server/http';
import { startAlertmanager, type Alertmanager } from './alertmanager';
import { callAs, serviceAccountToken, writeKubeconfig } from './control-plane';
import { markHealthy } from './deployments';
import { helmFor, unique } from './fixtures';
import { OWN_CHART } from './helm';
import { startRig, type Rig } from './incident-rig';
import { removeDir, tempDir } from './process';
import { startPrometheus, type Prometheus } from './prometheus';
import { serveOnRig } from './serve-rig';
import { sharedStack } from './shared';
import { makeStuck } from './stuck';
import { waitFor } from '../wait-for';

const TOKEN = `webhook-${randomBytes(12).toString('hex')}`;
const CLUSTER = 'nsmode';
const helm = helmFor(3);
let rig: Rig;
let dir: string;
let svc: Serving;
let am: Alertmanager;
let prom: Prometheus;
const listed = { release: unique('web'), namespace: unique('listed') };
const other = { release: unique('web'), namespace: unique('other') };

beforeAll(async () => {
  const stack = sharedStack();
  dir = tempDir('nsmode');
  rig = await startRig();
  rig.gitlab.addProject(621, 'ops/k8s-workloads-621');
  for (const o of [listed, other]) {
    await makeStuck['pending-upgrade'](helm, o);
    await markHealthy(o.namespace);
  }
  const chart = unique('hu');
  const saNamespace = unique('hu-sys');
  await helm.ok(['install', chart, OWN_CHART, '-n', saNamespace, '--create-namespace', '--set', 'rbac.mode=namespaced', '--set', `rbac.namespaces={${listed.namespace}}`]);
  const token = await serviceAccountToken(stack, saNamespace, `${chart}-helm-unstuck`);
  const kubeconfig = join(dir, 'sa.kubeconfig');
  writeKubeconfig(kubeconfig, { server: stack.server, caFile: stack.caFile, token, context: 'helm-unstuck' });
  // The API server loads new Roles asynchronously: wait until this identity may list there.
  const ca = readFileSync(stack.caFile);
  await waitFor('the Role in force', () => callAs(stack.server, ca, token, 'GET', `/api/v1/namespaces/${listed.namespace}/secrets`), (r) => r.status === 200);
  expect((await callAs(stack.server, ca, token, 'GET', '/api/v1/secrets')).status).toBe(403);
  const config = {
    clusters: { [CLUSTER]: { context: 'helm-unstuck', namespaces: [listed.namespace], admissionPolicy: 'not-required', gitlab: [{ project: 621, environment: CLUSTER }] } },
    policy: { approvers: ['alice'], minPendingAge: '0s', escalateAfter: '1h' },
    server: { listen: '127.0.0.1:0' },
    kubeconfig,
  };
  svc = await serveOnRig(rig, { dir, config, taskQueue: unique('nsmode'), webhookToken: TOKEN });
  am = await startAlertmanager({ webhookUrl: `${svc.url}${WEBHOOK_PATH}`, bearerToken: TOKEN });
  prom = await startPrometheus({ target: new URL(svc.url).host, alertmanager: new URL(am.url).host, rules: { minAgeSeconds: 3, for: '1s', externalUrl: svc.url } });
}, 300_000);

afterAll(async () => {
  await prom?.stop();
  await am?.stop();
  await svc?.close();
  await rig?.stop();
  await removeDir(dir);
});

test('a stuck release in a listed namespace becomes an incident through the shipped rule with the detector in sync', async () => {
  type Health = { detector: Record<string, { inSync: boolean; stuckReleases: number; lastError?: string }> };
  const health = await waitFor('the detector in sync', async () => ((await (await fetch(`${svc.url}/healthz`)).json()) as Health).detector[CLUSTER], (d) => d?.inSync === true && d.stuckReleases === 1, { timeoutMs: 60_000 });
  expect(health).toMatchObject({ inSync: true, stuckReleases: 1 });
  const metrics = await (await fetch(`${svc.url}/metrics`)).text();
  expect(metrics).toMatch(new RegExp(`^helm_unstuck_detector_in_sync\\{cluster="${CLUSTER}"\\} 1$`, 'm'));
  expect(metrics).toContain(`namespace="${listed.namespace}",release="${listed.release}"`);
  expect(metrics).not.toContain(other.namespace);

  // The shipped rule fires for it; Alertmanager posts it; the incident starts.
  const handle = svc.client.workflow.getHandle(workflowIdFor(CLUSTER, listed.namespace, listed.release));
  await waitFor('the incident started', () => handle.describe().then(() => true, () => false), Boolean, { timeoutMs: 120_000 });
  const alerts = (await prom.alerts()).filter((a) => a.labels.alertname === 'HelmReleaseStuck');
  expect(alerts.map((a) => [a.labels.namespace, a.labels.label_name])).toEqual([[listed.namespace, listed.release]]);
  // HelmUnstuckDetectorDown stays quiet: the detector was in sync all along.
  expect((await prom.alerts()).filter((a) => a.labels.alertname === 'HelmUnstuckDetectorDown')).toEqual([]);
  const elsewhere = svc.client.workflow.getHandle(workflowIdFor(CLUSTER, other.namespace, other.release));
  expect(await elsewhere.describe().then(() => true, () => false)).toBe(false);
}, 300_000);
