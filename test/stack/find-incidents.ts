// Finding incidents by their search attributes, on whichever Temporal server a test file passes:
// several incidents in two clusters, each at another point of the runbook or with another
// outcome; `helm-unstuck list` returns exactly the ones each filter asks for. Visibility is
// eventually consistent, so each listing is polled until it settles (never a fixed sleep).
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { clusterRegistry } from '../../activities/clusters';
import { GitlabClient } from '../../activities/gitlab';
import type { OperatorConfig } from '../../activities/policy';
import { main } from '../../cli/main';
import type { ListedIncident } from '../../cli/list-command';
import { startRemediation } from '../../client/incidents';
import { markHealthy } from './deployments';
import { CLUSTER, helmFor, unique } from './fixtures';
import { decideVerified, GITLAB_TOKEN, gitlabProject, operatorConfig, remediationInput, trace, waitForStatus, type Rig } from './incident-rig';
import { waitUntil } from './process';
import { sharedStack } from './shared';
import { makeStuck } from './stuck';

/** A second configured cluster: the same API server under another name. */
const EAST = 'east';

/** The server under test: a rig on it, and the environment the CLI reaches it with. */
export interface TemporalUnderTest {
  rig: Rig;
  cliEnv: NodeJS.ProcessEnv;
}

/** The dev server's: the rig's own, reached at its address. */
export const devServerEnv = (rig: Rig): NodeJS.ProcessEnv => ({ ...process.env, TEMPORAL_ADDRESS: rig.env.address });

async function worker(rig: Rig, taskQueue: string, project: number): Promise<Worker> {
  const base = operatorConfig(rig, { project });
  const operator: OperatorConfig = { ...base, clusters: { ...base.clusters, [EAST]: base.clusters[CLUSTER]! } };
  const kubeFor = clusterRegistry({ kubeconfig: sharedStack().kubeconfig, contexts: { [CLUSTER]: 'admin', [EAST]: 'admin' } });
  const gitlab = new GitlabClient(rig.gitlab.url, GITLAB_TOKEN);
  return Worker.create({ connection: rig.env.nativeConnection, namespace: rig.env.namespace ?? 'default', taskQueue, workflowBundle: rig.bundle, activities: createActivities({ kubeFor, gitlab: () => gitlab, operator }) });
}

async function stuck(): Promise<{ release: string; namespace: string }> {
  const o = { release: unique('web'), namespace: unique('find') };
  await makeStuck['pending-upgrade'](helmFor(3), { ...o, upgradesBefore: 1 });
  await markHealthy(o.namespace);
  return o;
}

/** The suite, on the server `start` gives (the dev server here; a production-shaped one later). */
export function describeFindIncidents(label: string, start: () => Promise<TemporalUnderTest>): void {
  describe(`finding incidents on ${label}`, () => {
    let t: TemporalUnderTest;
    beforeAll(async () => {
      t = await start();
    }, 180_000);
    afterAll(() => t?.rig.stop());

    const list = async (...argv: string[]): Promise<ListedIncident[]> => {
      let out = '';
      let err = '';
      const code = await main(['list', ...argv, '-o', 'json'], { out: (s) => (out += s), err: (s) => (err += s), env: t.cliEnv });
      if (code !== 0) throw new Error(`list ${argv.join(' ')} exited ${code}: ${err}`);
      return JSON.parse(out) as ListedIncident[];
    };
    /** Poll the listing until it is exactly `ids` (visibility catches up), then return it. */
    const listsExactly = async (argv: string[], ids: string[]): Promise<ListedIncident[]> => {
      let last: ListedIncident[] = [];
      const want = [...ids].sort();
      await waitUntil(`list ${argv.join(' ')} to be exactly ${want.join(', ')} (last: ${JSON.stringify(last)})`, async () => {
        last = await list(...argv);
        return JSON.stringify(last.map((r) => r.workflowId).sort()) === JSON.stringify(want);
      }, { timeoutMs: 30_000, intervalMs: 200 });
      return last;
    };

    test('list --cluster C --waiting and --outcome needs-review return exactly the matching incidents', async () => {
      const { rig } = t;
      const { project } = gitlabProject(rig.gitlab);
      // The one incident approved: its re-run's dry run lists changes, so it ends needs-review.
      rig.gitlab.onRetry = (p, job) => rig.gitlab.setJob(p, job.id, 'failed', trace('helmfile-changes.txt'));
      const [waitsHere, waitsEast, reviewed] = await Promise.all([stuck(), stuck(), stuck()]);
      const notStuck = { release: unique('calm'), namespace: unique('find') };
      const tq = unique('find');
      const w = await worker(rig, tq, project);
      await w.runUntil(async () => {
        const start = (o: { release: string; namespace: string }, cluster = CLUSTER) => startRemediation(rig.env.client, { ...remediationInput(o), cluster }, tq).then((r) => r.handle);
        const [a, d, b, c, e] = await Promise.all([start(waitsHere), start(waitsEast, EAST), start(reviewed), start(notStuck), start(waitsHere, 'nowhere')]);
        await Promise.all([a, d, b].map((h) => waitForStatus(h, (s) => s.hold === 'approval')));
        await decideVerified(rig.env.client, b.workflowId, { action: 'approve', by: 'alice', reason: 'checks are green' });
        expect((await b.result()).outcome).toBe('needs-review');
        expect((await c.result()).outcome).toBe('nothing-to-do');
        expect((await e.result()).outcome).toBe('failed');

        const waiting = await listsExactly(['--cluster', CLUSTER, '--waiting'], [a.workflowId]);
        expect(waiting).toEqual([expect.objectContaining({ cluster: CLUSTER, namespace: waitsHere.namespace, release: waitsHere.release, step: 'approval', waiting: true, status: 'RUNNING' })]);
        await listsExactly(['--cluster', EAST, '--waiting'], [d.workflowId]);
        const reviews = await listsExactly(['--outcome', 'needs-review', '--namespace', reviewed.namespace], [b.workflowId]);
        expect(reviews).toEqual([expect.objectContaining({ cluster: CLUSTER, release: reviewed.release, step: 'done', waiting: false, outcome: 'needs-review', status: 'COMPLETED' })]);
        // Across every namespace of this test: only the one needs-review, whatever else ended.
        const mine = new Set([a, d, b, c, e].map((h) => h.workflowId));
        expect((await list('--outcome', 'needs-review')).filter((r) => mine.has(r.workflowId)).map((r) => r.workflowId)).toEqual([b.workflowId]);
        await listsExactly(['--outcome', 'failed', '--cluster', 'nowhere', '--release', waitsHere.release], [e.workflowId]);
        await listsExactly(['--release', waitsHere.release, '--all'], [a.workflowId, e.workflowId]);
        // A release name that tries to be more query is one value: it matches nothing, and is no error.
        expect(await list('--all', '--release', `${waitsHere.release}' OR HelmUnstuckCluster != '`)).toEqual([]);
        expect(await list('--all', '--release', `x\\' OR HelmUnstuckRelease != '`)).toEqual([]);
        await Promise.all([a, d].map((h) => h.cancel()));
      });
    }, 240_000);
  });
}
