// Least privilege, proven on the real API server: the chart is installed with real helm, and a
// whole incident (scan, health, unlock by delete and by mark-failed, verify, restore) runs with a
// token for the chart's (the worker's) ServiceAccount and nothing else. Then everything that
// identity must not do is tried, and each refusal is checked for its status and for which layer
// refused it: RBAC (what the Roles do not grant) or the chart's ValidatingAdmissionPolicy (what
// RBAC cannot narrow). serve's ServiceAccount is refused everything, reads included.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMechanisms, createOperatorActions } from '../../activities';
import { clusterRegistry } from '../../activities/clusters';
import type { ReleaseHistory } from '../../activities/release';
import { apiRequest, callAs, serviceAccountToken, writeKubeconfig } from './control-plane';
import { markHealthy } from './deployments';
import { CLUSTER, helmFor, unique } from './fixtures';
import { OWN_CHART, type Helm, type HelmMajor } from './helm';
import { sharedStack } from './shared';
import { makeStuck } from './stuck';
import { waitFor } from '../wait-for';

const stack = sharedStack();
const ca = readFileSync(stack.caFile);

type Layer = 'rbac' | 'admission' | 'none';
interface Answer {
  status: number;
  layer: Layer;
  message: string;
}

/** Raw API calls as one identity; a refusal says which layer refused. */
function as(token: string) {
  return async (method: string, path: string, body?: unknown): Promise<Answer> => {
    const r = await callAs(stack.server, ca, token, method, path, body);
    const { message } = r;
    // RBAC: `User "…" cannot delete resource "secrets" …`; admission: `ValidatingAdmissionPolicy '…' … denied request`.
    const layer: Layer = /ValidatingAdmissionPolicy '[^']+' with binding/.test(message)
      ? 'admission'
      : /cannot [a-z]+ resource/.test(message)
        ? 'rbac'
        : 'none';
    return { status: r.status, layer, message };
  };
}

const admin = as(stack.adminToken);

async function adminOk(method: string, path: string, body?: unknown): Promise<void> {
  const r = await admin(method, path, body);
  if (r.status >= 300) throw new Error(`admin ${method} ${path}: ${r.status} ${r.message}`);
}

const secret = (ns: string, name: string, type: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace: ns, labels, annotations },
  type,
  data: { x: Buffer.from('not yours').toString('base64') },
});
const configMap = (ns: string, name: string, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: ns, labels },
  data: { x: 'not yours' },
});

interface Installed {
  saNamespace: string;
  serviceAccount: string;
  token: string;
  acts: ReturnType<typeof createMechanisms>;
  /** restore: the CLI's, with the same credentials here. */
  ops: ReturnType<typeof createOperatorActions>;
}

/**
 * The API server loads new RBAC objects and admission policies asynchronously; wait until this
 * ServiceAccount is allowed to create Secrets in `ns` and the policy refuses it one that is not
 * Helm's (a dry run: nothing is stored).
 */
async function policyInForce(token: string, ns: string): Promise<void> {
  const probe = () => as(token)('POST', `/api/v1/namespaces/${ns}/secrets?dryRun=All`, secret(ns, 'probe', 'Opaque'));
  await waitFor('the admission policy in force', probe, (a) => a.layer === 'admission');
}

/** Install the chart with real helm (no --wait: nothing here runs pods), then act as its ServiceAccount. */
async function installChart(helm: Helm, release: string, values: string[], servedNamespace: string): Promise<Installed> {
  const saNamespace = unique('hu-sys');
  await helm.ok(['install', release, OWN_CHART, '-n', saNamespace, '--create-namespace', ...values.flatMap((v) => ['--set', v])]);
  const serviceAccount = `${release}-helm-unstuck`;
  const token = await serviceAccountToken(stack, saNamespace, serviceAccount);
  const kubeconfig = join(stack.dir, `${release}.kubeconfig`);
  writeKubeconfig(kubeconfig, { server: stack.server, caFile: stack.caFile, token, context: 'helm-unstuck' });
  const kubeFor = clusterRegistry({ kubeconfig, contexts: { [CLUSTER]: 'helm-unstuck' } });
  const acts = createMechanisms({ kubeFor });
  await policyInForce(token, servedNamespace);
  return { saNamespace, serviceAccount, token, acts, ops: createOperatorActions({ kubeFor }) };
}

const approvedFrom = (h: ReleaseHistory) =>
  h.state.pending.map((r) => ({ objectName: r.objectName, revision: r.revision, status: r.status, uid: r.uid, resourceVersion: r.resourceVersion }));

/** The whole incident as the ServiceAccount: scan, health, history, unlock, verify, restore, both strategies. */
async function wholeIncident(sa: Installed, helm: Helm, o: { release: string; namespace: string }, scanNamespace: string | undefined) {
  const ref = { cluster: CLUSTER, ...o };
  const before = await helm.history(o.release, o.namespace);

  const scan = await sa.acts.scanStuckReleases({ cluster: CLUSTER, ...(scanNamespace ? { namespace: scanNamespace } : {}) });
  expect(scan.stuck).toEqual(expect.arrayContaining([expect.objectContaining({ ...o, revision: 3, status: 'pending-upgrade' })]));

  const health = await sa.acts.checkDeploymentHealth({ cluster: CLUSTER, namespace: o.namespace });
  expect(health).toMatchObject({ healthy: true });

  const h = await sa.acts.readReleaseHistory(ref);
  expect(h.state).toMatchObject({ kind: 'Locked', pendingStatus: 'pending-upgrade' });
  const unlockInput = (strategy: 'delete' | 'mark-failed') => ({
    ...ref,
    driver: h.driver!,
    strategy,
    approved: approvedFrom(h),
    incident: `test-${o.release}`,
  });

  // Runbook step 6's evidence: every object of the chart, read live with the chart's `get` rules.
  const pending = h.state.pending[0]!;
  const deployed = h.state.lastDeployed!;
  const live = await sa.acts.readLiveObjects({
    ...ref,
    driver: h.driver!,
    pending: { revision: pending.revision, objectName: pending.objectName },
    deployed: { revision: deployed.revision, objectName: deployed.objectName },
  });
  expect(live.objects.map((x) => [x.kind, x.verdict === 'unreadable' ? x.error : 'read'])).toEqual([
    ['Secret', 'read'],
    ['Deployment', 'read'],
  ]);

  const deleted = await sa.acts.unlockRelease(unlockInput('delete'));
  expect(deleted.actions).toEqual([expect.objectContaining({ revision: 3, outcome: 'deleted' })]);
  expect(await helm.status(o.release, o.namespace)).toEqual({ status: 'deployed', revision: 2 });
  const verified = await sa.acts.verifyRelease({ ...ref, expect: { deployedRevision: 2 } });
  expect(verified).toMatchObject({ verified: true, revision: 2 });

  const backupName = deleted.actions[0]!.backupName;
  const restored = await sa.ops.restoreRelease({ cluster: CLUSTER, namespace: o.namespace, driver: 'secret', backupName });
  expect(restored.outcome).toBe('restored');
  expect(await helm.history(o.release, o.namespace)).toEqual(before);

  // mark-failed rewrites the record (update), and restore rewrites it back (update again).
  const h2 = await sa.acts.readReleaseHistory(ref);
  const marked = await sa.acts.unlockRelease({ ...unlockInput('mark-failed'), approved: approvedFrom(h2) });
  expect(marked.actions).toEqual([expect.objectContaining({ revision: 3, outcome: 'marked-failed' })]);
  expect(await helm.status(o.release, o.namespace)).toEqual({ status: 'failed', revision: 3 });
  // Restore recreated the record under a new uid, so this unlock's backup has a name of its own.
  const back = await sa.ops.restoreRelease({ cluster: CLUSTER, namespace: o.namespace, driver: 'secret', backupName: marked.actions[0]!.backupName });
  expect(back.outcome).toBe('restored');
  expect(await helm.history(o.release, o.namespace)).toEqual(before);
  return { backupName };
}

const IN_NAMESPACE_REFUSALS = {
  'list pods': { status: 403, layer: 'rbac' },
  'get pod': { status: 403, layer: 'rbac' },
  'exec into a pod': { status: 403, layer: 'rbac' },
  'patch a release record': { status: 403, layer: 'rbac' },
  'deletecollection secrets': { status: 403, layer: 'rbac' },
  'create an Opaque Secret': { status: 403, layer: 'admission' },
  'create a release-named Secret of another type': { status: 403, layer: 'admission' },
  'create a token Secret named as a backup': { status: 403, layer: 'admission' },
  'update a Secret that is not Helm’s': { status: 403, layer: 'admission' },
  'delete a Secret that is not Helm’s': { status: 403, layer: 'admission' },
  'delete the deployed release record': { status: 403, layer: 'admission' },
  'update the deployed release record': { status: 403, layer: 'admission' },
  'update a backup': { status: 403, layer: 'admission' },
  'create a ConfigMap': { status: 403, layer: 'admission' },
  'create a release-named ConfigMap without owner=helm': { status: 403, layer: 'admission' },
  'update a ConfigMap that is not Helm’s': { status: 403, layer: 'admission' },
  'delete a ConfigMap that is not Helm’s': { status: 403, layer: 'admission' },
};

/** What the ServiceAccount must not do inside a namespace it serves; each with its status and refusing layer. */
async function expectRefusalsIn(sa: Installed, ns: string, release: string, backupName: string): Promise<void> {
  const call = as(sa.token);
  // Objects that are not the ServiceAccount's to change, made by the admin.
  await adminOk('POST', `/api/v1/namespaces/${ns}/secrets`, secret(ns, 'app-credentials', 'Opaque'));
  await adminOk('POST', `/api/v1/namespaces/${ns}/configmaps`, configMap(ns, 'app-settings'));
  const deployedRecord = `sh.helm.release.v1.${release}.v2`;
  const pendingRecord = `sh.helm.release.v1.${release}.v3`;
  const s = (name = '') => `/api/v1/namespaces/${ns}/secrets${name ? `/${name}` : ''}`;
  const cm = (name = '') => `/api/v1/namespaces/${ns}/configmaps${name ? `/${name}` : ''}`;
  const current = async (path: string) => JSON.parse((await apiRequest(`${stack.server}${path}`, stack.adminToken, ca)).body) as Record<string, unknown>;
  const backupLabels = { 'app.kubernetes.io/managed-by': 'helm-unstuck' };

  const tries: Record<string, () => Promise<Answer>> = {
    'list pods': () => call('GET', `/api/v1/namespaces/${ns}/pods`),
    'get pod': () => call('GET', `/api/v1/namespaces/${ns}/pods/web-0`),
    'exec into a pod': () => call('POST', `/api/v1/namespaces/${ns}/pods/web-0/exec?command=sh&stdout=true`),
    'patch a release record': () => call('PATCH', s(pendingRecord), undefined),
    'deletecollection secrets': () => call('DELETE', s()),
    'create an Opaque Secret': () => call('POST', s(), secret(ns, 'planted', 'Opaque')),
    'create a release-named Secret of another type': () => call('POST', s(), secret(ns, `sh.helm.release.v1.${release}.v9`, 'Opaque', { owner: 'helm' })),
    'create a token Secret named as a backup': () =>
      // The token controller would fill it with a token of that ServiceAccount, readable with `get`.
      call('POST', s(), secret(ns, 'helm-unstuck.backup.x.v1.00000000', 'kubernetes.io/service-account-token', backupLabels, {
        'kubernetes.io/service-account.name': 'default',
      })),
    'update a Secret that is not Helm’s': async () => call('PUT', s('app-credentials'), await current(s('app-credentials'))),
    'delete a Secret that is not Helm’s': () => call('DELETE', s('app-credentials')),
    'delete the deployed release record': () => call('DELETE', s(deployedRecord)),
    'update the deployed release record': async () => call('PUT', s(deployedRecord), await current(s(deployedRecord))),
    'update a backup': async () => call('PUT', s(backupName), await current(s(backupName))),
    'create a ConfigMap': () => call('POST', cm(), configMap(ns, 'planted')),
    'create a release-named ConfigMap without owner=helm': () => call('POST', cm(), configMap(ns, `sh.helm.release.v1.${release}.v9`)),
    'update a ConfigMap that is not Helm’s': async () => call('PUT', cm('app-settings'), await current(cm('app-settings'))),
    'delete a ConfigMap that is not Helm’s': () => call('DELETE', cm('app-settings')),
  };
  const out: Record<string, Pick<Answer, 'status' | 'layer'>> = {};
  for (const [what, attempt] of Object.entries(tries)) {
    const a = await attempt();
    out[what] = { status: a.status, layer: a.layer };
  }
  expect(out).toEqual(IN_NAMESPACE_REFUSALS);
  // Nothing was changed by any of them.
  expect((await admin('GET', s('app-credentials'))).status).toBe(200);
  expect((await admin('GET', cm('app-settings'))).status).toBe(200);
  expect((await admin('GET', s(deployedRecord))).status).toBe(200);
  expect((await admin('GET', s('planted'))).status).toBe(404);
}

/**
 * serve's identity (its ServiceAccount, bound to nothing; the pod mounts no token of it, so this
 * is a token asked for by TokenRequest, the strongest it could hold): refused every read and every
 * write, by RBAC, here and cluster-wide.
 */
async function expectServeRefusedEverything(sa: Installed, ns: string, release: string): Promise<void> {
  const token = await serviceAccountToken(stack, sa.saNamespace, `${sa.serviceAccount}-serve`);
  const call = as(token);
  const record = `/api/v1/namespaces/${ns}/secrets/sh.helm.release.v1.${release}.v3`;
  const tries: Record<string, () => Promise<Answer>> = {
    'list secrets cluster-wide': () => call('GET', '/api/v1/secrets'),
    'list secrets': () => call('GET', `/api/v1/namespaces/${ns}/secrets`),
    'watch secrets': () => call('GET', `/api/v1/namespaces/${ns}/secrets?watch=true&timeoutSeconds=1`),
    'get a release record': () => call('GET', record),
    'list configmaps cluster-wide': () => call('GET', '/api/v1/configmaps'),
    'list configmaps': () => call('GET', `/api/v1/namespaces/${ns}/configmaps`),
    'get a configmap': () => call('GET', `/api/v1/namespaces/${ns}/configmaps/kube-root-ca.crt`),
    'get its own chart’s ConfigMap': () => call('GET', `/api/v1/namespaces/${sa.saNamespace}/configmaps/${sa.serviceAccount}`),
    'list deployments': () => call('GET', `/apis/apps/v1/namespaces/${ns}/deployments`),
    'list pods': () => call('GET', `/api/v1/namespaces/${ns}/pods`),
    'list namespaces': () => call('GET', '/api/v1/namespaces'),
    'create a Secret': () => call('POST', `/api/v1/namespaces/${ns}/secrets`, secret(ns, 'planted-by-serve', 'Opaque')),
    'create a ConfigMap': () => call('POST', `/api/v1/namespaces/${ns}/configmaps`, configMap(ns, 'planted-by-serve')),
    'create a Pod': () => call('POST', `/api/v1/namespaces/${ns}/pods`, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'planted' }, spec: { containers: [{ name: 'x', image: 'x' }] } }),
    'create a token for the worker': () => call('POST', `/api/v1/namespaces/${sa.saNamespace}/serviceaccounts/${sa.serviceAccount}/token`, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} }),
    'delete a release record': () => call('DELETE', record),
    'update a release record': () => call('PUT', record, {}),
    'deletecollection secrets': () => call('DELETE', `/api/v1/namespaces/${ns}/secrets`),
    'delete a namespace': () => call('DELETE', `/api/v1/namespaces/${ns}`),
    'delete its own ServiceAccount': () => call('DELETE', `/api/v1/namespaces/${sa.saNamespace}/serviceaccounts/${sa.serviceAccount}-serve`),
  };
  const out: Record<string, Pick<Answer, 'status' | 'layer'>> = {};
  for (const [what, attempt] of Object.entries(tries)) {
    const a = await attempt();
    out[what] = { status: a.status, layer: a.layer };
  }
  expect(out).toEqual(Object.fromEntries(Object.keys(tries).map((what) => [what, { status: 403, layer: 'rbac' }])));
  // Still there, untouched.
  expect((await admin('GET', record)).status).toBe(200);
  expect((await admin('GET', `/api/v1/namespaces/${ns}/secrets/planted-by-serve`)).status).toBe(404);
}

async function stuckAndHealthy(helm: Helm, prefix: string) {
  const o = { release: unique('web'), namespace: unique(prefix) };
  await makeStuck['pending-upgrade'](helm, { ...o, upgradesBefore: 1 });
  await markHealthy(o.namespace);
  return o;
}

const modes: [string, HelmMajor][] = [
  ['cluster', 3],
  ['namespaced', 4],
];

describe.each(modes)('RBAC mode %s (chart installed with helm v%i)', (mode, major) => {
  const helm = helmFor(major);

  test('the ServiceAccount runs a whole incident, and is refused everything else by RBAC or by the admission policy', async () => {
    const served = await stuckAndHealthy(helm, 'app');
    const other = await stuckAndHealthy(helm, 'other');
    const values = mode === 'cluster' ? ['rbac.mode=cluster'] : ['rbac.mode=namespaced', `rbac.namespaces={${served.namespace}}`];
    const sa = await installChart(helm, unique('hu'), values, served.namespace);

    // Cluster mode scans every namespace; namespaced mode scans the namespaces it serves.
    const { backupName } = await wholeIncident(sa, helm, served, mode === 'cluster' ? undefined : served.namespace);

    await expectRefusalsIn(sa, served.namespace, served.release, backupName);
    await expectServeRefusedEverything(sa, served.namespace, served.release);

    const call = as(sa.token);
    const otherSecrets = `/api/v1/namespaces/${other.namespace}/secrets`;
    const pendingElsewhere = `${otherSecrets}/sh.helm.release.v1.${other.release}.v3`;
    if (mode === 'namespaced') {
      // Outside its list: nothing at all, refused by RBAC before admission is consulted.
      const outside = {
        'list secrets cluster-wide': await call('GET', '/api/v1/secrets'),
        'list secrets in another namespace': await call('GET', otherSecrets),
        'read a release record in another namespace': await call('GET', pendingElsewhere),
        'delete a pending release record in another namespace': await call('DELETE', pendingElsewhere),
        'list deployments in another namespace': await call('GET', `/apis/apps/v1/namespaces/${other.namespace}/deployments`),
      };
      for (const [what, a] of Object.entries(outside)) expect({ what, status: a.status, layer: a.layer }).toEqual({ what, status: 403, layer: 'rbac' });
      // The scan lists both drivers at once: whichever refusal answers first is the one it reports.
      await expect(sa.acts.scanStuckReleases({ cluster: CLUSTER })).rejects.toThrow(/forbidden.*cannot list resource "(secrets|configmaps)"/);
      await expect(sa.acts.readReleaseHistory({ cluster: CLUSTER, ...other })).rejects.toThrow(/forbidden/);
    } else {
      // Cluster-wide, RBAC reaches every namespace, and the admission policy narrows it there too.
      await adminOk('POST', otherSecrets, secret(other.namespace, 'elsewhere', 'Opaque'));
      const a = await call('DELETE', `${otherSecrets}/elsewhere`);
      expect({ status: a.status, layer: a.layer }).toEqual({ status: 403, layer: 'admission' });
      expect(a.message).toContain('helm-unstuck may change only Helm release records');
    }

    // The policy binds to this ServiceAccount only: the admin (and helm) are not narrowed by it.
    await adminOk('POST', `/api/v1/namespaces/${served.namespace}/secrets`, secret(served.namespace, 'admin-may', 'Opaque'));
    await adminOk('DELETE', `/api/v1/namespaces/${served.namespace}/secrets/admin-may`);

  });
});
