// Two real clusters in one `serve` (and its one worker): the shared control plane as `east`, a
// second kube-apiserver + etcd as `west`, one kubeconfig with a context for each. The same
// namespace and release are stuck in both, so only the cluster tells the incidents apart: an alert
// through a real Alertmanager starts the incident on its own cluster, and an unlock there leaves
// the other cluster's record byte for byte as it was. Then `scan --all-contexts` gives the fleet
// in one table, with a row saying why for a cluster that is down or does not answer.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { Kube } from '../../activities/kubernetes';
import { EXIT, main } from '../../cli/main';
import { decide } from '../../client/incidents';
import { workflowIdFor } from '../../decisions/vocabulary';
import { WEBHOOK_PATH } from '../../server/http';
import type { RemediationResult } from '../../workflows/definitions';
import type { Serving } from '../../server/serve';
import { startAlertmanager, type Alertmanager } from './alertmanager';
import { startControlPlane, type ControlPlane } from './control-plane';
import { markHealthy } from './deployments';
import { unique } from './fixtures';
import { Helm } from './helm';
import { startRig, waitForStatus, type Rig } from './incident-rig';
import { freePort, removeDir, tempDir } from './process';
import { serveOnRig } from './serve-rig';
import { sharedStack } from './shared';
import { makeStuck } from './stuck';

const TOKEN = `webhook-${randomBytes(12).toString('hex')}`;
const NOOP = '$ helmfile -e x diff --detailed-exitcode\nComparing release=web, chart=tiny, namespace=x\nNo affected releases\n';
const CLUSTERS = ['east', 'west'] as const;
type Cluster = (typeof CLUSTERS)[number];

let west: ControlPlane;
let rig: Rig;
let dir: string;
let svc: Serving;
let am: Alertmanager;
let kubeconfig: string;
let configFile: string;
const helm = {} as Record<Cluster, Helm>;
const kube = {} as Record<Cluster, Kube>;

/** One kubeconfig, a context per cluster (plus any extra), each with its own server, CA and token. */
function writeFleetKubeconfig(file: string, clusters: { name: string; server: string; caFile: string; token: string }[]): void {
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: clusters.map((c) => ({ name: c.name, cluster: { server: c.server, 'certificate-authority': c.caFile } })),
      users: clusters.map((c) => ({ name: c.name, user: { token: c.token } })),
      contexts: clusters.map((c) => ({ name: c.name, context: { cluster: c.name, user: c.name } })),
      'current-context': clusters[0]!.name,
    }),
    { mode: 0o600 },
  );
}

beforeAll(async () => {
  const shared = sharedStack();
  dir = tempDir('fleet');
  [west, rig] = await Promise.all([
    startControlPlane({ etcdBin: shared.binaries.etcd, apiserverBin: shared.binaries.kubeApiserver, dir: join(dir, 'west') }),
    startRig(),
  ]);
  kubeconfig = join(dir, 'kubeconfig');
  writeFleetKubeconfig(kubeconfig, [
    { name: 'east', server: shared.server, caFile: shared.caFile, token: shared.adminToken },
    { name: 'west', server: west.server, caFile: west.caFile, token: west.adminToken },
  ]);
  helm.east = new Helm(3, shared.binaries.helm3, shared.kubeconfig, join(dir, 'helm-east'));
  helm.west = new Helm(4, shared.binaries.helm4, west.kubeconfig, join(dir, 'helm-west'));
  for (const c of CLUSTERS) kube[c] = Kube.fromKubeconfig({ file: kubeconfig, context: c });

  // Each cluster deploys from its own GitLab project; its last deploy failed (the job to re-run).
  CLUSTERS.forEach((c, i) => {
    rig.gitlab.addProject(11 + i, `ops/k8s-workloads-${c}`);
    const failed = rig.gitlab.addJob(11 + i, { name: `${c}:upgrade`, stage: 'deploy', status: 'failed' });
    rig.gitlab.addDeployment(11 + i, { environment: c, status: 'failed', job: failed });
  });
  rig.gitlab.onRetry = (project, job) => rig.gitlab.setJob(project, job.id, 'success', NOOP);
  const config = {
    kubeconfig,
    clusters: Object.fromEntries(CLUSTERS.map((c, i) => [c, { context: c, gitlab: [{ project: 11 + i, environment: c }], admissionPolicy: 'not-required' }])),
    // Decisions go straight through Temporal here (no sign-in), which the operator must allow.
    policy: { approvers: ['alice'], minPendingAge: '0s', escalateAfter: '1h', ciPollInterval: '200ms', ciJobTimeout: '1m', allowUnverifiedDecisions: true },
    server: { listen: '127.0.0.1:0' },
  };
  svc = await serveOnRig(rig, { dir, config, taskQueue: unique('fleet'), webhookToken: TOKEN });
  configFile = join(dir, 'config.yaml');
  am = await startAlertmanager({ webhookUrl: `${svc.url}${WEBHOOK_PATH}`, bearerToken: TOKEN });
}, 180_000);

afterAll(async () => {
  await am?.stop();
  await svc?.close();
  await rig?.stop();
  await west?.stop();
  if (dir) await removeDir(dir);
});

/** The same release stuck in both clusters, its Deployments healthy; the pending record of each. */
async function stuckInBoth(o: { namespace: string; release: string }) {
  const records = {} as Record<Cluster, { name: string; uid: string; resourceVersion: string; revision: number }>;
  for (const c of CLUSTERS) {
    const stuck = await makeStuck['pending-upgrade'](helm[c], o);
    await markHealthy(o.namespace, c === 'east' ? sharedStack().kubeconfig : west.kubeconfig);
    const name = `sh.helm.release.v1.${o.release}.v${stuck.pendingRevision}`;
    const rec = (await kube[c].getRecord('Secret', o.namespace, name))!;
    records[c] = { name, uid: rec.uid, resourceVersion: rec.resourceVersion, revision: stuck.pendingRevision };
  }
  return records;
}

test('alerts from two clusters start incidents on the right cluster; an unlock touches only its own', async () => {
  const o = { namespace: unique('fleet'), release: 'web' };
  const records = await stuckInBoth(o);
  expect(records.east.uid).not.toBe(records.west.uid);

  await am.fire(CLUSTERS.map((c) => ({
    labels: { alertname: 'HelmReleaseStuck', cluster: c, namespace: o.namespace, label_name: o.release, label_version: String(records[c].revision) },
  })));
  const handle = (c: Cluster) => svc.client.workflow.getHandle(workflowIdFor(c, o.namespace, o.release));
  // Each incident read its own cluster: the plan a human approves names that cluster's record.
  const plan = {} as Record<Cluster, string>;
  for (const c of CLUSTERS) {
    const s = await waitForStatus(handle(c) as never, (st) => st.hold === 'approval', 90_000);
    expect(s.view.plan?.records.map((r) => [r.objectName, r.uid])).toEqual([[records[c].name, records[c].uid]]);
    plan[c] = s.view.plan!.digest;
  }

  await decide(svc.client, workflowIdFor('east', o.namespace, o.release), { action: 'approve', by: 'alice', reason: 'east only', plan: plan.east });
  const eastResult = (await handle('east').result()) as RemediationResult;
  expect(eastResult).toMatchObject({ outcome: 'unstuck-and-verified', cluster: 'east' });
  expect(eastResult.unlock?.actions.map((a) => [a.outcome, a.uid])).toEqual([['deleted', records.east.uid]]);
  expect(await kube.east.getRecord('Secret', o.namespace, records.east.name)).toBeUndefined();
  // West: its record exactly as it was (same uid, same resourceVersion), no backup, still waiting.
  expect(await kube.west.getRecord('Secret', o.namespace, records.west.name)).toMatchObject({ uid: records.west.uid, resourceVersion: records.west.resourceVersion });
  expect((await kube.west.listRecords('Secret', o.namespace, 'app.kubernetes.io/managed-by=helm-unstuck')).length).toBe(0);
  expect((await handle('west').query('status')) as { hold?: string }).toMatchObject({ hold: 'approval' });

  await decide(svc.client, workflowIdFor('west', o.namespace, o.release), { action: 'approve', by: 'alice', reason: 'now west', plan: plan.west });
  const westResult = (await handle('west').result()) as RemediationResult;
  expect(westResult).toMatchObject({ outcome: 'unstuck-and-verified', cluster: 'west' });
  expect(westResult.unlock?.actions.map((a) => [a.outcome, a.uid])).toEqual([['deleted', records.west.uid]]);
  expect(await kube.west.getRecord('Secret', o.namespace, records.west.name)).toBeUndefined();
  // Each cluster's CI job was re-run once, from its own project.
  expect(rig.gitlab.retries().map((c) => c.path.split('/')[4]).sort()).toEqual(['11', '12']);
  for (const c of CLUSTERS) expect(await helm[c].run(['upgrade', o.release, join(__dirname, '..', 'fixtures', 'charts', 'tiny'), '-n', o.namespace])).toMatchObject({ code: 0 });
}, 240_000);

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s), env: { ...process.env, HELM_UNSTUCK_CONFIG: configFile } });
  return { code, out, err };
}

test('scan --all-contexts: the fleet in one table; a cluster down or silent is a row saying so', async () => {
  const o = { namespace: unique('fleet-scan'), release: 'api' };
  const records = await stuckInBoth(o);
  // Two more contexts: nothing listening on one port; a server that accepts and never answers on another.
  const downPort = await freePort();
  const sockets: Socket[] = [];
  const silent: NetServer = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const shared = sharedStack();
  const fleet = join(dir, 'kubeconfig-fleet');
  writeFleetKubeconfig(fleet, [
    { name: 'east', server: shared.server, caFile: shared.caFile, token: shared.adminToken },
    { name: 'west', server: west.server, caFile: west.caFile, token: west.adminToken },
    { name: 'down', server: `https://127.0.0.1:${downPort}`, caFile: shared.caFile, token: 'x' },
    { name: 'silent', server: `https://127.0.0.1:${(silent.address() as { port: number }).port}`, caFile: shared.caFile, token: 'x' },
  ]);
  try {
    const table = await cli('scan', '--all-contexts', '--kubeconfig', fleet, '-n', o.namespace, '--cluster-timeout', '3s');
    const rows = table.out.trimEnd().split('\n').map((l) => l.split(/\s{2,}/));
    expect(rows[0]).toEqual(['CLUSTER', 'NAMESPACE', 'RELEASE', 'REVISION', 'STATUS', 'PENDING FOR', 'DEPLOYED', 'DRIVER', 'NOTE']);
    expect(rows.slice(1)).toEqual([
      ['east', o.namespace, 'api', String(records.east.revision), 'pending-upgrade', expect.stringMatching(/^\d+[sm]$/), String(records.east.revision - 1), 'secret'],
      ['west', o.namespace, 'api', String(records.west.revision), 'pending-upgrade', expect.stringMatching(/^\d+[sm]$/), String(records.west.revision - 1), 'secret'],
      ['down', '-', '-', '-', '-', '-', '-', '-', `ERROR: cannot reach https://127.0.0.1:${downPort}: ECONNREFUSED`],
      ['silent', '-', '-', '-', '-', '-', '-', '-', expect.stringMatching(/^ERROR: no answer from https:\/\/127\.0\.0\.1:\d+ in 3 s$/)],
      ['4 clusters: 2 stuck releases, 2 clusters could not be scanned.'],
    ]);
    // Clusters missed are an error (1) unless something stuck was found and asked about (3).
    expect(table.code).toBe(EXIT.error);
    const json = await cli('scan', '--all-contexts', '--kubeconfig', fleet, '-n', o.namespace, '--cluster-timeout', '3s', '-o', 'json', '--fail-if-stuck');
    expect(json.code).toBe(EXIT.stuckFound);
    const parsed = JSON.parse(json.out) as { clusters: ({ cluster: string; result: { stuck: { uid?: string; objectName: string }[] } } | { cluster: string; error: string })[] };
    expect(parsed.clusters.map((c) => ('error' in c ? [c.cluster, 'error'] : [c.cluster, c.result.stuck.map((s) => s.objectName)]))).toEqual([
      ['east', [records.east.name]],
      ['west', [records.west.name]],
      ['down', 'error'],
      ['silent', 'error'],
    ]);
  } finally {
    sockets.forEach((s) => s.destroy());
    silent.close();
  }

  // Over the configured clusters (HELM_UNSTUCK_CONFIG): both reachable, exit 0.
  const configured = await cli('scan', '--all-clusters', '-n', o.namespace);
  expect(configured.code).toBe(EXIT.ok);
  expect(configured.out.trimEnd().split('\n').slice(1).map((l) => l.split(/\s{2,}/).slice(0, 3))).toEqual([
    ['east', o.namespace, 'api'],
    ['west', o.namespace, 'api'],
    ['2 clusters: 2 stuck releases.'],
  ]);
  expect(await cli('scan', '--all-contexts', '--context', 'east')).toMatchObject({ code: EXIT.usage, err: expect.stringMatching(/cannot be used with option '--all-contexts'/) });
}, 240_000);
