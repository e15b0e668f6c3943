// Step 6 proven on the cluster (issue 11), on real helm v3 and v4 with both unlock strategies:
// the fake GitLab's re-run job runs a real `helm upgrade` against the test cluster and prints a
// two-way diff in helm-diff's shape. What the interrupted upgrade already applied is evidence
// before approval; what the re-run changed is read from the cluster before and after it, and the
// cluster decides where the log disagrees. Incidents run concurrently: each has its own release,
// namespace, GitLab project and task queue.
import { notifyAlert, startRemediation } from '../../client/incidents';
import type { Activities } from '../../activities';
import type { UnlockStrategy } from '../../decisions/schemas';
import type { RemediationResult } from '../../workflows/remediate';
import type { RemediationStatus } from '../../workflows/definitions';
import { runDeployJob } from './deploy-job';
import { markHealthy } from './deployments';
import { KubeForbiddenError } from '../../activities/kubernetes';
import { CHART_SECRETS, CLUSTER, failingStackActivities, helmFor, stackKubeFor, unique } from './fixtures';
import { TINY_CHART, type Helm, type HelmMajor } from './helm';
import { captureHistory, decideVerified, gitlabProject, newWorker, remediationInput, startRig, taskQueue, waitForStatus, type Rig } from './incident-rig';
import { deleteRecord } from './records';
import { hangAndKill, makeStackedPending, makeStuckAfterApply, makeStuckBeforeApply, makeStuckInstall } from './stuck';

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
async function incident(
  helm: Helm,
  o: Release,
  strategy: UnlockStrategy,
  set: string[],
  around?: (real: Activities) => Partial<Activities>,
): Promise<{ r: RemediationResult; atApproval: RemediationStatus }> {
  await markHealthy(o.namespace);
  const { project } = gitlabProject(rig.gitlab);
  rig.gitlab.runOnRetry(project, () => runDeployJob(helm, o, set));
  const tq = taskQueue();
  const worker = await newWorker(rig, tq, { project, policy: { strategy } }, around);
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

// Races with other people, each injected at the exact point it happens (never by sleeping).
test('the pending revision replaced during the wait: the new plan is shown with its own live objects, read again, not the first plan\'s', async () => {
  const helm = helmFor(3);
  const o = { release: unique('rf'), namespace: unique('rf') };
  const web = `${o.release}-web`;
  await makeStuckAfterApply(helm, { ...o, upgradesBefore: 1 }, async () => (await image(o.namespace, web)) === pendingImage);
  await markHealthy(o.namespace);
  const { project } = gitlabProject(rig.gitlab);
  const tq = taskQueue();
  const worker = await newWorker(rig, tq, { project });
  const { first, now, r } = await worker.runUntil(async () => {
    const { handle } = await startRemediation(rig.env.client, remediationInput(o), tq);
    const first = await waitForStatus(handle, (s) => s.hold === 'approval');
    // At the hold: someone deletes the stuck record and deploys again, killed in its hook this
    // time: a new revision 3 (tag 5.0.0), nothing of it applied; the live Deployment is still
    // as the replaced revision left it (2.0.0), which neither revision now wants.
    await deleteRecord(o.namespace, first.view.plan!.records[0]!.objectName);
    await hangAndKill(
      helm,
      ['upgrade', o.release, TINY_CHART, '-n', o.namespace, '--set', 'tag=5.0.0', '--set', 'hangPreUpgradeHook=true'],
      o.release,
      o.namespace,
      { revision: 3, status: 'pending-upgrade' },
      90_000,
      () => exists('batch/v1', 'Job', o.namespace, `${o.release}-pre-upgrade`),
    );
    await notifyAlert(rig.env.client, handle.workflowId, { status: 'resolved', fingerprint: 'f1' });
    const now = await waitForStatus(
      handle,
      (s) => s.view.plan?.digest !== first.view.plan?.digest && s.evidence.some((e) => /approval is now asked for plan/.test(e.summary)) && s.view.applied !== undefined,
    );
    await decideVerified(rig.env.client, handle.workflowId, { action: 'reject', by: 'alice', reason: 'someone else is deploying' });
    const r = await handle.result();
    // The golden history of a changed plan (test/histories): captured on the code before the re-read, it
    // proves incidents started then still replay (patched('changed-plan-reads-live-objects')).
    await captureHistory('plan-changed-while-waiting', handle);
    return { first, now, r };
  });
  const deployment = `Deployment ${o.namespace}/${web}`;
  expect(first.view.applied?.summary).toMatch(/^the interrupted upgrade already applied 1 of 1 objects/);
  const fresh = `the interrupted upgrade applied 0 of 1 objects; 1 match neither revision (drift): ${deployment}`;
  expect(now.view.applied).toEqual({
    summary: fresh,
    objects: [
      { kind: 'Secret', namespace: o.namespace, name: `${o.release}-token`, verdict: 'unchanged' },
      { kind: 'Deployment', namespace: o.namespace, name: web, verdict: 'drift' },
    ],
  });
  expect(now.view.plan?.records[0]?.uid).not.toBe(first.view.plan?.records[0]?.uid);
  expect(evidence(r)).toContain(fresh);
  expect(r).toMatchObject({ outcome: 'rejected', reason: 'alice rejected: someone else is deploying' });
});

test("someone's own helm upgrade between the verification and the roll-forward: undone by the re-run, which the ending names (needs-review), never 'completed'", async () => {
  const helm = helmFor(3);
  const o = { release: unique('rf'), namespace: unique('rf') };
  const web = `${o.release}-web`;
  await makeStuckAfterApply(helm, { ...o, upgradesBefore: 1 }, async () => (await image(o.namespace, web)) === pendingImage);
  let upgrades = 0;
  // The roll-forward's first activity: verified just before; its live read comes just after.
  const { r } = await incident(helm, o, 'delete', ['tag=2.0.0'], (real) => ({
    async findJobToRerun(watch) {
      if (upgrades++ === 0) await helm.ok(['upgrade', o.release, TINY_CHART, '-n', o.namespace, '--set', 'tag=5.0.0']);
      return real.findJobToRerun(watch);
    },
  }));
  const deployment = `Deployment ${o.namespace}/${web}`;
  expect(upgrades).toBe(1);
  expect(r.verification?.verified).toBe(true);
  expect(evidence(r)).toContain(
    `before the re-run, 1 object(s) were as neither revision wants them (someone's own deploy or edit?): ${deployment} (changed after approval was asked, when it was applied); the re-run may overwrite them`,
  );
  expect(r.rerun?.cluster?.change).toBe('overwrote');
  expect(r.outcome).toBe('needs-review');
  expect(r.reason).toContain(
    `the re-run overwrote changes made outside both revisions: ${deployment} (as neither revision wanted it before the re-run, changed after approval was asked, when it was applied; now applied)`,
  );
  expect(r.reason).not.toMatch(/completed the interrupted upgrade/);
  expect(await image(o.namespace, web)).toBe(pendingImage);
});

test('a read our identity may not make is evidence ("could not read … (forbidden)"), never a failure', async () => {
  const helm = helmFor(3);
  const o = { release: unique('rf'), namespace: unique('rf') };
  await makeStuckAfterApply(helm, { ...o, upgradesBefore: 1 }, async () => (await image(o.namespace, `${o.release}-web`)) === pendingImage);
  const { acts, kube: failing } = failingStackActivities();
  const h = await acts.readReleaseHistory({ cluster: CLUSTER, ...o });
  // What the adapter throws for the API server's 403 (translate() in activities/kubernetes/request.ts).
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
