// Step 6 proven on the cluster (issue 11), on real helm v3 and v4 with both unlock strategies:
// the fake GitLab's re-run job runs a real `helm upgrade` against the test cluster and prints a
// two-way diff in helm-diff's shape. What the interrupted upgrade already applied is evidence
// before approval; what the re-run changed is read from the cluster before and after it, and the
// cluster decides where the log disagrees. Incidents run concurrently: each has its own release,
// namespace, GitLab project and task queue.
import { startRemediation } from '../../client/remediation';
import type { UnlockStrategy } from '../../decisions/remediation';
import type { RemediationResult } from '../../workflows/remediate';
import type { RemediationStatus } from '../../workflows/definitions';
import { runDeployJob } from './deploy-job';
import { markHealthy } from './deployments';
import { KubeForbiddenError } from '../../activities/kubernetes';
import { CHART_SECRETS, CLUSTER, failingStackActivities, helmFor, stackKubeFor, unique } from './fixtures';
import type { Helm, HelmMajor } from './helm';
import { decideVerified, gitlabProject, newWorker, remediationInput, startRig, taskQueue, waitForStatus, type Rig } from './incident-rig';
import { makeStackedPending, makeStuckAfterApply, makeStuckBeforeApply, makeStuckInstall } from './stuck';

let rig: Rig;
beforeAll(async () => {
  rig = await startRig();
}, 120_000);
afterAll(() => rig?.stop());

const kube = () => stackKubeFor()(CLUSTER);
const image = async (namespace: string, name: string) => {
  const d = (await kube().readObject({ apiVersion: 'apps/v1', kind: 'Deployment', namespace, name })) as { spec?: { template?: { spec?: { containers?: { image?: string }[] } } } } | undefined;
  return d?.spec?.template?.spec?.containers?.[0]?.image;
};
const exists = async (apiVersion: string, kind: string, namespace: string, name: string) => (await kube().readObject({ apiVersion, kind, namespace, name })) !== undefined;

type Release = { release: string; namespace: string };

/** One incident: approved once the approval page shows what was applied; the re-run job deploys `set`. */
async function incident(helm: Helm, o: Release, strategy: UnlockStrategy, set: string[]): Promise<{ r: RemediationResult; atApproval: RemediationStatus }> {
  await markHealthy(o.namespace);
  const { project } = gitlabProject(rig.gitlab);
  rig.gitlab.runOnRetry(project, () => runDeployJob(helm, o, set));
  const tq = taskQueue();
  const worker = await newWorker(rig, tq, { project, policy: { strategy } });
  return worker.runUntil(async () => {
    const { handle } = await startRemediation(rig.env.client, remediationInput(o), tq);
    const atApproval = await waitForStatus(handle, (s) => s.hold === 'approval');
    await decideVerified(rig.env.client, handle.workflowId, { action: 'approve', by: 'alice', reason: 'checked the applied objects' });
    return { r: await handle.result(), atApproval };
  });
}

const evidence = (r: { evidence: { summary: string }[] }) => r.evidence.map((e) => e.summary).join('\n');
const pendingImage = 'registry.invalid/tiny:2.0.0';

const SCENARIOS = ['all applied', 'none applied', 'beyond the pending revision'] as const;
const cases = ([3, 4] as HelmMajor[]).flatMap((major) =>
  (['delete', 'mark-failed'] as UnlockStrategy[]).flatMap((strategy) => SCENARIOS.map((scenario) => [major, strategy, scenario] as const)),
);

test.concurrent.each(cases)('helm v%i, %s: stuck with %s', async (major, strategy, scenario) => {
  const helm = helmFor(major);
  const o = { release: unique('rf'), namespace: unique('rf') };
  const web = `${o.release}-web`;
  if (scenario === 'none applied') {
    // Killed while its pre-upgrade hook hangs: nothing of revision 3 is live.
    await makeStuckBeforeApply(helm, { ...o, upgradesBefore: 1 }, () => exists('batch/v1', 'Job', o.namespace, `${o.release}-pre-upgrade`));
    expect(await image(o.namespace, web)).toBe('registry.invalid/tiny:1.1.0');
  } else {
    // Killed while it waited (--wait): all of revision 3 is live.
    await makeStuckAfterApply(helm, { ...o, upgradesBefore: 1 }, async () => (await image(o.namespace, web)) === pendingImage);
  }
  const { r, atApproval } = await incident(helm, o, strategy, [scenario === 'beyond the pending revision' ? 'tag=3.0.0' : 'tag=2.0.0']);
  const deployment = `Deployment ${o.namespace}/${web}`;

  // Before approval, in an SRE's words; only kinds, names and verdicts.
  const applied = atApproval.view.applied;
  if (scenario === 'none applied') {
    expect(applied?.summary).toBe(`the interrupted upgrade applied 0 of 1 objects: the next deploy will change these 1 (${deployment})`);
    expect(applied?.objects).toEqual([
      { kind: 'Secret', namespace: o.namespace, name: `${o.release}-token`, verdict: 'unchanged' },
      { kind: 'Deployment', namespace: o.namespace, name: web, verdict: 'not-applied' },
    ]);
  } else {
    expect(applied?.summary).toBe(
      `the interrupted upgrade already applied 1 of 1 objects (${deployment}): after the unlock the next deploy may report these as changes but should change nothing`,
    );
  }
  expect(evidence(atApproval)).toContain(applied!.summary);

  expect(r.verification?.verified).toBe(true);
  if (strategy === 'mark-failed') expect(r.verification?.summary).toMatch(/revision 3 is failed, revision 2 is still the last deployed; Helm will accept the next upgrade/);
  else expect(r.verification?.summary).toMatch(/revision 2 .*is deployed/);

  // Helm's newest stored manifest after a delete is revision 2 (the diff lists the Deployment);
  // after a mark-failed it is the failed revision 3 (the diff is silent).
  const logListsChanges = strategy === 'delete' || scenario === 'beyond the pending revision';
  expect(r.rerun?.diff.verdict).toBe(logListsChanges ? 'changes' : 'no-op');
  expect(r.rerun?.diff.mode).toBe('two-way');
  if (logListsChanges) expect(r.rerun?.diff.reason).toContain(`Deployment ${o.namespace}/${web} changed`);

  if (scenario === 'all applied') {
    expect(r.rerun?.cluster?.change).toBe('nothing');
    expect(r.outcome).toBe('unstuck-and-verified');
    expect(r.reason).toMatch(/the deploy changed no object of the release \(2 compared\)/);
    if (strategy === 'delete') expect(r.reason).toContain('The log lists changes but the cluster shows none: the cluster decides');
  } else if (scenario === 'none applied') {
    expect(r.rerun?.cluster?.change).toBe('completed');
    expect(r.outcome).toBe('unstuck-and-verified');
    expect(r.reason).toContain(`the deploy completed the interrupted upgrade: it changed exactly ${deployment}, as the pending revision intended`);
    if (strategy === 'mark-failed') expect(r.reason).toContain('The log shows no change but the cluster changed: the cluster decides (a two-way diff after an unlock is no proof of no change)');
  } else {
    expect(r.rerun?.cluster?.change).toBe('unexpected');
    expect(r.outcome).toBe('needs-review');
    expect(r.reason).toContain(`the deploy changed 1 object(s) beyond the interrupted upgrade's intent: ${deployment} (now as neither revision wants it)`);
  }
  expect(await image(o.namespace, web)).toBe(scenario === 'beyond the pending revision' ? 'registry.invalid/tiny:3.0.0' : pendingImage);
  expect(await helm.status(o.release, o.namespace)).toMatchObject({ status: 'deployed' });
  expect(JSON.stringify(r)).not.toMatch(new RegExp(CHART_SECRETS.join('|')));
});

// Stacked pending revisions and a stuck first install, with both strategies (helm v3).
const OTHER = (['delete', 'mark-failed'] as UnlockStrategy[]).flatMap((strategy) => (['stacked', 'first install'] as const).map((kind) => [strategy, kind] as const));

test.concurrent.each(OTHER)('helm v3, %s: %s', async (strategy, kind) => {
  const helm = helmFor(3);
  const o = { release: unique('rf'), namespace: unique('rf') };
  if (kind === 'stacked') await makeStackedPending(helm, { ...o, upgradesBefore: 1 });
  else await makeStuckInstall(helm, o);
  const { r, atApproval } = await incident(helm, o, strategy, kind === 'stacked' ? ['tag=2.0.0'] : ['tag=1.0.0']);

  // Stacked: the pending upgrade (3) under the pending rollback (4) is what CI deploys.
  expect(atApproval.view.applied?.summary).toMatch(kind === 'stacked' ? /applied [01] of 1 objects/ : /^the interrupted upgrade already applied 2 of 2 objects/);
  expect(r.unlock?.actions.map((a) => [a.revision, a.outcome])).toEqual(
    (kind === 'stacked' ? [4, 3] : [1]).map((rev) => [rev, strategy === 'delete' ? 'deleted' : 'marked-failed']),
  );
  expect(r.verification?.verified).toBe(true);
  expect(r.verification?.summary).toMatch(
    strategy === 'delete'
      ? kind === 'stacked'
        ? /revision 2 .*is deployed/
        : /gone, as expected after removing a stuck first install/
      : kind === 'stacked'
        ? /revisions 4, 3 are failed, revision 2 is still the last deployed/
        : /revision 1 is failed \(it was a first install/,
  );
  expect(r.outcome).toBe('unstuck-and-verified');
  expect(r.rerun?.cluster?.change).toMatch(/^(nothing|completed)$/);
  expect(await helm.status(o.release, o.namespace)).toMatchObject({ status: 'deployed' });
});

test('a read our identity may not make is evidence ("could not read … (forbidden)"), never a failure', async () => {
  const helm = helmFor(3);
  const o = { release: unique('rf'), namespace: unique('rf') };
  await makeStuckAfterApply(helm, { ...o, upgradesBefore: 1 }, async () => (await image(o.namespace, `${o.release}-web`)) === pendingImage);
  const { acts, kube: failing } = failingStackActivities();
  const h = await acts.readReleaseHistory({ cluster: CLUSTER, ...o });
  // What the adapter throws for the API server's 403 (translate() in activities/kubernetes.ts).
  failing.on('readObject', async (real, obj) => {
    if (obj.kind === 'Deployment') throw new KubeForbiddenError(`read Deployment ${obj.namespace}/${obj.name}: deployments.apps is forbidden`, 403, 'Forbidden');
    return real.readObject(obj);
  }, 2);
  const live = await acts.readLiveObjects({
    cluster: CLUSTER,
    ...o,
    driver: h.driver!,
    pending: { revision: 3, objectName: h.state.pending[0]!.objectName },
    deployed: { revision: 2, objectName: h.state.lastDeployed!.objectName },
  });
  expect(live.objects.map((x) => [x.kind, x.verdict])).toEqual([
    ['Secret', 'unchanged'],
    ['Deployment', 'unreadable'],
  ]);
  expect(live.summary).toMatch(new RegExp(`could not read Deployment ${o.namespace}/${o.release}-web \\(forbidden\\)$`));
});
