// Durability: the worker is SIGKILLed mid-incident (after the unlock and the CI retry, while the
// workflow waits on a durable timer for the re-run job). A new worker completes the incident
// from history: exactly one deletion and one CI retry.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import type { OperatorConfig } from '../../activities/policy';
import { startRemediation } from '../../client/incidents';
import { helmFor, unique } from './fixtures';
import { markHealthy } from './deployments';
import { decideVerified, gitlabProject, newWorker, operatorConfig, remediationInput, startRig, taskQueue, trace, waitForStatus, type Rig } from './incident-rig';
import { LEASH, removeDir, tempDir } from './process';
import { sharedStack } from './shared';
import { makeStuck } from './stuck';
import { waitFor } from '../wait-for';

let rig: Rig;
let dir: string;
beforeAll(async () => {
  rig = await startRig();
  dir = tempDir('crash');
}, 120_000);
afterAll(async () => {
  await rig?.stop();
  await removeDir(dir);
});

function startWorkerProcess(tq: string, operator: OperatorConfig): ChildProcess {
  const bundle = join(dir, 'workflow-bundle.js');
  writeFileSync(bundle, rig.bundle.code);
  const entry = resolve(__dirname, 'worker-process.ts');
  return spawn(LEASH, [String(process.pid), '--', process.execPath, '--import', 'tsx', entry], {
    cwd: resolve(__dirname, '..', '..'),
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: rig.env.address,
      TASK_QUEUE: tq,
      GITLAB_URL: rig.gitlab.url,
      KUBECONFIG_FILE: sharedStack().kubeconfig,
      WORKFLOW_BUNDLE: bundle,
      OPERATOR_CONFIG: JSON.stringify(operator),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

test('a worker killed mid-incident is replaced; the incident completes with one deletion and one retry', async () => {
  const helm = helmFor(4);
  const o = { release: unique('web'), namespace: unique('crash') };
  await makeStuck['pending-upgrade'](helm, o);
  await markHealthy(o.namespace);
  const { project } = gitlabProject(rig.gitlab);
  let rerunJobId = 0;
  rig.gitlab.onRetry = (p, job) => {
    rerunJobId = job.id;
    rig.gitlab.setJob(p, job.id, 'running');
  };
  const tq = taskQueue();

  const first = startWorkerProcess(tq, operatorConfig(rig, { project }));
  let out = '';
  first.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = () => (first.exitCode !== null ? `the worker process exited (${first.exitCode})` : undefined);
  await waitFor("the worker process's 'worker ready'", () => out, (o) => o.includes('worker ready'), { timeoutMs: 60_000, failIf: exited });

  const { handle } = await startRemediation(rig.env.client, remediationInput(o), tq);
  await waitForStatus(handle, (s) => s.hold === 'approval');
  await decideVerified(rig.env.client, handle.workflowId, { action: 'approve', by: 'alice', reason: 'go' });
  await waitForStatus(handle, (s) => s.step === 'roll-forward' && /CI job \d+ \(running\) to finish/.test(s.waitingFor ?? ''));

  first.kill('SIGKILL');
  await once(first, 'exit');

  // The job finishes while no worker runs; a new worker picks the incident up from history.
  rig.gitlab.setJob(project, rerunJobId, 'success', trace('helmfile-noop.txt'));
  const second = await newWorker(rig, tq, { project });
  const result = await second.runUntil(handle.result());

  expect(result.outcome).toBe('unstuck-and-verified');
  expect(rig.gitlab.retries()).toHaveLength(1);
  const history = await handle.fetchHistory();
  const scheduled = (name: string) =>
    history.events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === name).length;
  expect(scheduled('unlockRelease')).toBe(1);
  expect(scheduled('retryCiJob')).toBe(1);
  expect(result.unlock?.actions).toEqual([expect.objectContaining({ outcome: 'deleted' })]);

  // One backup, and Helm's view: the previous revision deployed.
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(sharedStack().kubeconfig);
  const backups = await kc.makeApiClient(k8s.CoreV1Api).listNamespacedSecret({
    namespace: o.namespace,
    labelSelector: 'app.kubernetes.io/managed-by=helm-unstuck',
  });
  expect(backups.items).toHaveLength(1);
  expect(await helm.status(o.release, o.namespace)).toEqual({ status: 'deployed', revision: 1 });
});
