// The chart's admission policy against forged history, on the real API server, as the chart's
// ServiceAccount: each write that would plant or rewrite a revision (a `deployed` v99, a pending
// record relabelled, a mark that is not helm-unstuck's) is refused with the policy's words, and
// what an unlock and a restore write still goes through. Then the start-up probe: a cluster where
// the policy was forgotten is reported on /healthz and in /metrics, and an unlock there is refused
// (nothing changed) unless the operator opted out for that cluster.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createMechanisms, createOperatorActions } from '../../activities';
import { clusterRegistry } from '../../activities/clusters';
import type { ReleaseHistory } from '../../activities/release';
import { MARKED_FROM } from '../../activities/unlock';
import { startWorkerService, type WorkerService } from '../../worker/service';
import { apiRequest, callAs, serviceAccountToken } from './control-plane';
import { CLUSTER, helmFor, unique, unlockInput } from './fixtures';
import { OWN_CHART, type Helm, type HelmDriver } from './helm';
import { tempDir } from './process';
import { sharedStack } from './shared';
import { makeStuck } from './stuck';
import { startTemporal } from './temporal';
import { waitFor } from '../wait-for';

const stack = sharedStack();
const ca = readFileSync(stack.caFile);

type Obj = { metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string>; resourceVersion?: string; [k: string]: unknown }; data?: Record<string, string>; [k: string]: unknown };
interface Answer {
  status: number;
  message: string;
}

/** Raw API calls as one identity. */
const as =
  (token: string) =>
  (method: string, path: string, body?: unknown): Promise<Answer> =>
    callAs(stack.server, ca, token, method, path, body);
const admin = as(stack.adminToken);
/** An object as the admin reads it. */
async function read<T = Obj>(path: string): Promise<T> {
  const r = await apiRequest(`${stack.server}${path}`, stack.adminToken, ca);
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.body.slice(0, 200)}`);
  return JSON.parse(r.body) as T;
}
/** `o` as a new object to create (no server-set metadata), with `edit` applied. */
function fresh(o: Obj, edit: (o: Obj) => void): Obj {
  const c = structuredClone(o);
  for (const k of ['uid', 'resourceVersion', 'creationTimestamp', 'managedFields']) delete c.metadata[k];
  edit(c);
  return c;
}
/** `o` as a replacement (its resourceVersion kept), with `edit` applied. */
function changed(o: Obj, edit: (o: Obj) => void): Obj {
  const c = structuredClone(o);
  delete c.metadata.managedFields;
  edit(c);
  return c;
}
const labels = (o: Obj, l: Record<string, string>) => (o.metadata.labels = { ...o.metadata.labels, ...l });
const annotate = (o: Obj, a: Record<string, string>) => (o.metadata.annotations = { ...o.metadata.annotations, ...a });
const X = Buffer.from('x').toString('base64');

/** Install the chart with real helm as `release` in a namespace of its own; a token for its ServiceAccount. */
async function installChart(helm: Helm, release: string, values: string[]): Promise<{ namespace: string; token: string; kubeconfig: string }> {
  const namespace = unique('hu-sys');
  await helm.ok(['install', release, OWN_CHART, '-n', namespace, '--create-namespace', ...values.flatMap((v) => ['--set', v])]);
  const token = await serviceAccountToken(stack, namespace, `${release}-helm-unstuck`);
  const kubeconfig = join(stack.dir, `${release}.kubeconfig`);
  writeContexts(kubeconfig, { [CLUSTER]: token });
  return { namespace, token, kubeconfig };
}

/** One kubeconfig, a context per name, each with its own token for the shared API server. */
function writeContexts(file: string, tokens: Record<string, string>): void {
  const names = Object.keys(tokens);
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'stack', cluster: { server: stack.server, 'certificate-authority': stack.caFile } }],
      users: names.map((n) => ({ name: n, user: { token: tokens[n] } })),
      contexts: names.map((n) => ({ name: n, context: { cluster: 'stack', user: n } })),
      'current-context': names[0],
    }),
  );
}

/**
 * Until the API server has loaded the new RBAC objects (and, with `policy`, the admission policy):
 * a dry-run create of an Opaque Secret is let through by RBAC, and refused by the policy if one is wanted.
 */
async function ready(token: string, ns: string, policy: boolean): Promise<void> {
  const probe = () => as(token)('POST', `/api/v1/namespaces/${ns}/secrets?dryRun=All`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'probe' }, type: 'Opaque' });
  await waitFor(policy ? 'RBAC and the admission policy loaded' : 'RBAC loaded', probe, (a) => (policy ? /ValidatingAdmissionPolicy/.test(a.message) : a.status === 201));
}

const refused = (says: RegExp) => ({ status: 403, message: expect.stringMatching(new RegExp(`ValidatingAdmissionPolicy '[^']+' with binding '[^']+' denied request: ${says.source}`)) });

describe.each<[HelmDriver]>([['secret'], ['configmap']])('driver %s: forged history, as the chart’s ServiceAccount', (driver) => {
  const helm = helmFor(3, driver);
  const resource = driver === 'secret' ? 'secrets' : 'configmaps';
  let sa: { token: string; kubeconfig: string };
  let o: { release: string; namespace: string };

  beforeAll(async () => {
    o = { release: unique('web'), namespace: unique('app') };
    await makeStuck['pending-upgrade'](helm, { ...o, upgradesBefore: 1 });
    sa = await installChart(helmFor(3), unique('hu'), ['rbac.mode=cluster']);
    await ready(sa.token, o.namespace, true);
  }, 180_000);

  test('every forgery is refused by the policy, with its reason, and changes nothing; unlock and restore still write what they must', async () => {
    const call = as(sa.token);
    const path = (name = '') => `/api/v1/namespaces/${o.namespace}/${resource}${name ? `/${name}` : ''}`;
    const record = (v: number) => `sh.helm.release.v1.${o.release}.v${v}`;
    const deployed = await read(path(record(2)));
    const pending = await read(path(record(3)));
    const before = await helm.history(o.release, o.namespace);
    // Someone else (the admin) marks revision 1, superseded, as if helm-unstuck had: a forged mark.
    const v1 = await read(path(record(1)));
    await admin('PUT', path(record(1)), changed(v1, (c) => annotate(c, { [MARKED_FROM]: v1.metadata.resourceVersion! })));
    const markedByOther = await read(path(record(1)));
    const forge = (v: number, status: string) =>
      fresh(deployed, (c) => {
        c.metadata.name = record(v);
        labels(c, { version: String(v), status });
      });
    const rv = pending.metadata.resourceVersion!;

    // Each as a server-side dry run, so each is judged on its own (admission runs as for a real
    // write; a forgery let through stores nothing to mask the next). The headline two, for real, below.
    const dry = (method: string, p: string, body: unknown) => call(method, `${p}?dryRun=All`, body);
    const attacks: Record<string, () => Promise<Answer>> = {
      'create v99 labelled deployed': () => dry('POST', path(), forge(99, 'deployed')),
      'create v99 labelled superseded': () => dry('POST', path(), forge(99, 'superseded')),
      'create v99 labelled failed': () => dry('POST', path(), forge(99, 'failed')),
      'create a pending record carrying the mark': () => dry('POST', path(), fresh(forge(99, 'pending-upgrade'), (c) => annotate(c, { [MARKED_FROM]: '1' }))),
      'create a pending record under another revision’s name': () => dry('POST', path(), fresh(forge(99, 'pending-upgrade'), (c) => labels(c, { version: '3' }))),
      'relabel the pending record deployed': () => dry('PUT', path(record(3)), changed(pending, (c) => labels(c, { status: 'deployed' }))),
      'relabel the pending record another pending status': () => dry('PUT', path(record(3)), changed(pending, (c) => labels(c, { status: 'pending-install' }))),
      'mark the pending record failed without the mark': () => dry('PUT', path(record(3)), changed(pending, (c) => labels(c, { status: 'failed' }))),
      'mark the pending record failed with a wrong mark': () =>
        dry('PUT', path(record(3)), changed(pending, (c) => (labels(c, { status: 'failed' }), annotate(c, { [MARKED_FROM]: `${rv}0` })))),
      'mark failed and add a data key': () =>
        dry('PUT', path(record(3)), changed(pending, (c) => (labels(c, { status: 'failed' }), annotate(c, { [MARKED_FROM]: rv }), (c.data = { ...c.data, extra: X })))),
      'mark failed and change the version label': () =>
        dry('PUT', path(record(3)), changed(pending, (c) => (labels(c, { status: 'failed', version: '99' }), annotate(c, { [MARKED_FROM]: rv })))),
      'mark failed and add another annotation': () =>
        dry('PUT', path(record(3)), changed(pending, (c) => (labels(c, { status: 'failed' }), annotate(c, { [MARKED_FROM]: rv, 'other/annotation': 'x' })))),
      'add the mark to the deployed record': () => dry('PUT', path(record(2)), changed(deployed, (c) => annotate(c, { [MARKED_FROM]: deployed.metadata.resourceVersion! }))),
      'rewrite a superseded record someone else marked': () => dry('PUT', path(record(1)), changed(markedByOther, (c) => labels(c, { status: 'deployed' }))),
      // Helm lists records by label, not by name or type: this "backup" would be revision 99, deployed.
      'create a backup labelled owner=helm': () =>
        dry('POST', path(), fresh(forge(99, 'deployed'), (c) => {
          c.metadata.name = `helm-unstuck.backup.${o.release}.v99.00000000`;
          labels(c, { 'app.kubernetes.io/managed-by': 'helm-unstuck' });
          if (driver === 'secret') c.type = 'helm-unstuck/backup';
        })),
    };
    const expected: Record<string, unknown> = {
      'create v99 labelled deployed': refused(/helm-unstuck creates Helm release records only as pending-install, pending-upgrade or pending-rollback \(a restore\), not with status deployed/),
      'create v99 labelled superseded': refused(/.*not with status superseded/),
      'create v99 labelled failed': refused(/.*not with status failed/),
      'create a pending record carrying the mark': refused(/helm-unstuck creates a Helm release record without its mark-failed annotation/),
      'create a pending record under another revision’s name': refused(/helm-unstuck creates a Helm release record only under the name its name and version labels give/),
      'relabel the pending record deployed': refused(/helm-unstuck rewrites a pending Helm release record only to failed, and one it marked failed only back to pending; .* is pending-upgrade, not to become deployed/),
      'relabel the pending record another pending status': refused(/.*is pending-upgrade, not to become pending-install/),
      'mark the pending record failed without the mark': refused(new RegExp(`helm-unstuck marks a pending Helm release record failed only with annotation ${MARKED_FROM} set to the record's resourceVersion ${rv}`)),
      'mark the pending record failed with a wrong mark': refused(/helm-unstuck marks a pending Helm release record failed only with annotation/),
      'mark failed and add a data key': refused(/helm-unstuck changes only data.release of a Helm release record's data; .* would also change data.extra/),
      'mark failed and change the version label': refused(/helm-unstuck changes only the status and modifiedAt labels and its mark annotation of a Helm release record; .* would also change label version/),
      'mark failed and add another annotation': refused(/.*would also change annotation other\/annotation/),
      'add the mark to the deployed record': refused(/.* is deployed, not to become deployed/),
      'rewrite a superseded record someone else marked': refused(/.* is superseded \(marked\), not to become deployed/),
      'create a backup labelled owner=helm': refused(/helm-unstuck backups never carry the label owner/),
    };
    const got: Record<string, Answer> = {};
    for (const [what, attempt] of Object.entries(attacks)) got[what] = await attempt();
    expect(got).toEqual(expected);
    // The measured attack, for real: refused, as its dry run was.
    expect(await call('POST', path(), forge(99, 'deployed'))).toEqual(expected['create v99 labelled deployed']);
    expect(await call('PUT', path(record(3)), changed(pending, (c) => labels(c, { status: 'deployed' })))).toEqual(expected['relabel the pending record deployed']);
    // Nothing was written: the history is Helm's own, and no v99 exists.
    expect(await helm.history(o.release, o.namespace)).toEqual(before);
    expect((await admin('GET', path(record(99)))).status).toBe(404);
    expect((await read(path(record(3)))).metadata.resourceVersion).toBe(rv);

    // What helm-unstuck writes, as the same ServiceAccount (its activities probe the policy first: in force).
    const kubeFor = clusterRegistry({ kubeconfig: sa.kubeconfig, contexts: { [CLUSTER]: CLUSTER } });
    const acts = createMechanisms({ kubeFor });
    const ops = createOperatorActions({ kubeFor });
    const history = () => acts.readReleaseHistory({ cluster: CLUSTER, ...o }) as Promise<ReleaseHistory>;
    // mark failed (a backup created, the record updated with the right mark) ...
    const marked = await acts.unlockRelease(unlockInput(await history(), 'mark-failed'));
    expect(marked.actions).toEqual([expect.objectContaining({ revision: 3, outcome: 'marked-failed' })]);
    const markedRecord = await read(path(record(3)));
    expect(markedRecord.metadata.annotations).toEqual({ [MARKED_FROM]: rv });
    // ... which only restore may undo, to pending and without the mark
    const undo: Record<string, Answer> = {
      'relabel the marked record deployed': await call('PUT', path(record(3)), changed(markedRecord, (c) => labels(c, { status: 'deployed' }))),
      'put it back pending, keeping the mark': await call('PUT', path(record(3)), changed(markedRecord, (c) => labels(c, { status: 'pending-upgrade' }))),
    };
    expect(undo).toEqual({
      'relabel the marked record deployed': refused(/.* is failed \(marked\), not to become deployed/),
      'put it back pending, keeping the mark': refused(/helm-unstuck puts a record it marked failed back only without its mark/),
    });
    // restore back to pending (an update) ...
    expect((await ops.restoreRelease({ cluster: CLUSTER, namespace: o.namespace, driver, backupName: marked.actions[0]!.backupName })).outcome).toBe('restored');
    expect(await helm.history(o.release, o.namespace)).toEqual(before);
    // ... delete with preconditions, and create it back as restore does.
    const deleted = await acts.unlockRelease(unlockInput(await history(), 'delete'));
    expect(deleted.actions).toEqual([expect.objectContaining({ revision: 3, outcome: 'deleted' })]);
    expect((await ops.restoreRelease({ cluster: CLUSTER, namespace: o.namespace, driver, backupName: deleted.actions[0]!.backupName })).outcome).toBe('restored');
    expect(await helm.history(o.release, o.namespace)).toEqual(before);
    // Backups are created (above) and deleted; never rewritten.
    const backup = await read(path(deleted.actions[0]!.backupName));
    expect((await call('PUT', path(deleted.actions[0]!.backupName), changed(backup, (c) => labels(c, { x: 'y' })))).status).toBe(403);
    expect((await call('DELETE', path(deleted.actions[0]!.backupName))).status).toBe(200);
  }, 120_000);
});

describe('the start-up probe, per cluster', () => {
  const helm = helmFor(3);
  let temporal: TestWorkflowEnvironment;
  let svc: WorkerService;
  let o: { release: string; namespace: string };
  let kubeconfig: string;
  const config = {
    // `guarded`: the chart with its policy; `forgotten`: the chart's RBAC without it (as on a remote
    // cluster where the policy was never applied); `waived`: the same identity, and the operator's opt-out.
    clusters: {
      guarded: { context: 'guarded', gitlab: [{ project: 1, environment: 'guarded' }] },
      forgotten: { context: 'forgotten', gitlab: [{ project: 2, environment: 'forgotten' }] },
      waived: { context: 'forgotten', gitlab: [{ project: 3, environment: 'waived' }], admissionPolicy: 'not-required' as const },
    },
    policy: { approvers: ['alice'] },
    server: { listen: '127.0.0.1:0' },
  };

  beforeAll(async () => {
    o = { release: unique('web'), namespace: unique('app') };
    const [guarded, forgotten] = await Promise.all([
      installChart(helm, unique('hu'), ['rbac.mode=cluster']),
      installChart(helm, unique('hu'), ['rbac.mode=cluster', 'admissionPolicy.enabled=false']),
      makeStuck['pending-upgrade'](helm, { ...o, upgradesBefore: 1 }),
    ]);
    await Promise.all([ready(guarded.token, 'default', true), ready(forgotten.token, 'default', false)]);
    const dir = tempDir('admission');
    kubeconfig = join(dir, 'kubeconfig');
    writeContexts(kubeconfig, { guarded: guarded.token, forgotten: forgotten.token });
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(config));
    temporal = await startTemporal();
    // The worker as the chart runs it (`worker --listen`): the process that probes and exports the gauge.
    svc = await startWorkerService({
      env: { ...process.env, KUBECONFIG: kubeconfig, HELM_UNSTUCK_CONFIG: file, TEMPORAL_ADDRESS: temporal.address },
      log: () => undefined,
    });
    await svc.admissionProbed;
  }, 180_000);
  afterAll(async () => {
    await svc?.close();
    await temporal?.teardown();
  });

  test('/healthz and the metric say where the policy is in force; the unlock refuses where it is not, unless the operator opted out', async () => {
    const health = (await (await fetch(`${svc.url}/healthz`)).json()) as { admissionPolicy: Record<string, { requirement: string; state: string; namespace: string; detail: string }> };
    expect(health.admissionPolicy).toEqual({
      guarded: expect.objectContaining({ requirement: 'required', state: 'enforced', namespace: 'default', detail: expect.stringMatching(/^refused by ValidatingAdmissionPolicy hu-sys-/) }),
      forgotten: expect.objectContaining({ requirement: 'required', state: 'not-enforced', namespace: 'default', detail: 'a forged deployed release record was admitted (dry run)' }),
      waived: expect.objectContaining({ requirement: 'not-required', state: 'not-enforced' }),
    });
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    const gauge = Object.fromEntries([...metrics.matchAll(/^helm_unstuck_admission_policy_enforced\{cluster="([^"]+)"\} (-?\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
    expect(gauge).toEqual({ guarded: 1, forgotten: 0, waived: 0 });
    // The dry runs stored nothing.
    expect((await admin('GET', '/api/v1/namespaces/default/secrets/sh.helm.release.v1.helm-unstuck-admission-probe.v1')).status).toBe(404);

    // The worker's wiring: the operator's configuration, and the worker's monitor (probing again, where the unlock writes).
    const acts = createMechanisms({ kubeFor: clusterRegistry({ kubeconfig, contexts: { guarded: 'guarded', forgotten: 'forgotten', waived: 'forgotten' } }), operator: { ...config, decisionKeys: [] }, admission: svc.admission.check });
    const h = await acts.readReleaseHistory({ cluster: 'forgotten', ...o });
    const records = async () => (await read<{ items: Obj[] }>(`/api/v1/namespaces/${o.namespace}/secrets`)).items.map((i) => `${i.metadata.name}@${i.metadata.resourceVersion}`).sort();
    const before = await records();
    const refusal = await acts.unlockRelease({ ...unlockInput(h), cluster: 'forgotten' }).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(ApplicationFailure);
    expect(refusal).toMatchObject({
      type: 'AdmissionPolicyMissing',
      nonRetryable: true,
      message: expect.stringMatching(new RegExp(`^cluster forgotten: helm-unstuck's admission policy is not in force \\(a dry-run create of a forged deployed release record in namespace ${o.namespace} was admitted\\).*nothing was changed.*clusters\\.forgotten\\.admissionPolicy: not-required$`)),
    });
    expect(await records()).toEqual(before); // no backup, no write
    expect(await helm.status(o.release, o.namespace)).toEqual({ status: 'pending-upgrade', revision: 3 });

    // The same identity on a cluster the operator waived: it acts.
    const done = await acts.unlockRelease({ ...unlockInput(h), cluster: 'waived' });
    expect(done.actions).toEqual([expect.objectContaining({ revision: 3, outcome: 'deleted' })]);
    expect(await helm.status(o.release, o.namespace)).toEqual({ status: 'deployed', revision: 2 });
  }, 120_000);
});
