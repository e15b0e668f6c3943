// The README's first command: a worker with no Temporal configured starts its own dev server,
// serves the helm-unstuck task queue, and takes the server down with it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { WORKER_CAPACITY } from '../../worker/capacity';
import { startWorker } from '../../worker/worker';
import { CLUSTER, helmFor, stackActivities, stackKubeFor, unique, unlockInput } from './fixtures';
import type { scheduleRestore } from './hostile/workflows';
import { freePort, removeDir, tempDir } from './process';
import { sharedStack } from './shared';
import { makeStuck } from './stuck';
import { startTemporal } from './temporal';
import { waitFor } from '../wait-for';

test('with no TEMPORAL_ADDRESS the worker starts a local dev server and polls helm-unstuck', async () => {
  const dir = tempDir('worker');
  const port = await freePort();
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HELM_UNSTUCK_DEV_SERVER_PORT: String(port),
    HELM_UNSTUCK_DEV_SERVER_DB: join(dir, 'temporal.sqlite'),
  };
  const logs: string[] = [];
  const w = await startWorker({ env, log: (l) => logs.push(l) });
  try {
    expect(w.target.devServer?.started).toBe(true);
    expect(w.target.connectionOptions.address).toBe(`127.0.0.1:${port}`);
    expect(logs.join('\n')).toMatch(/using a local dev server/);
    // Bounded by worker/capacity.ts, not by the SDK's defaults (sized from V8's heap limit).
    const slots = (n: number) => ({ type: 'fixed-size', numSlots: n });
    expect(w.worker.options.maxCachedWorkflows).toBe(WORKER_CAPACITY.maxCachedWorkflows);
    expect(w.worker.options.tuner).toMatchObject({
      workflowTaskSlotSupplier: slots(WORKER_CAPACITY.maxConcurrentWorkflowTaskExecutions),
      activityTaskSlotSupplier: slots(WORKER_CAPACITY.maxConcurrentActivityTaskExecutions),
      localActivityTaskSlotSupplier: slots(WORKER_CAPACITY.maxConcurrentLocalActivityExecutions),
    });
    const conn = await Connection.connect({ address: `127.0.0.1:${port}` });
    try {
      const pollers = async () => {
        const tq = await conn.workflowService.describeTaskQueue({
          namespace: 'default',
          taskQueue: { name: 'helm-unstuck' },
          taskQueueType: 2, // TASK_QUEUE_TYPE_ACTIVITY
        });
        return tq.pollers?.length ?? 0;
      };
      expect(await waitFor('a poller on the helm-unstuck activity task queue', pollers, (n) => n > 0)).toBeGreaterThan(0);
    } finally {
      await conn.close();
    }
  } finally {
    await w.shutdown();
    await removeDir(dir);
  }
  // The dev server went down with the worker.
  await expect(Connection.connect({ address: `127.0.0.1:${port}`, connectTimeout: 1000 })).rejects.toThrow();
});

test('a TLS setting without an address is a configuration error, not a silent dev server', async () => {
  await expect(startWorker({ env: { TEMPORAL_API_KEY: 'k' }, log: () => undefined })).rejects.toThrow(
    /TLS or API key is configured but no address: set TEMPORAL_ADDRESS/,
  );
});

test("restoreRelease is not served to workflows: another's workflow scheduling it on the worker's task queue fails, the unlock stands", async () => {
  const helm = helmFor(3);
  const o = { release: unique('web'), namespace: unique('wk') };
  await makeStuck['pending-upgrade'](helm, o);
  const acts = stackActivities();
  const unlocked = await acts.unlockRelease(unlockInput(await acts.readReleaseHistory({ cluster: CLUSTER, ...o })));
  const { backupName, objectName } = unlocked.actions[0]!;
  const kube = stackKubeFor()(CLUSTER);
  const now = async () => ({
    record: await kube.getRecord('Secret', o.namespace, objectName),
    backup: await kube.getRecord('Secret', o.namespace, backupName),
    helm: await helm.history(o.release, o.namespace),
  });
  const before = await now();
  expect(before.record).toBeUndefined();
  expect(before.backup).toBeDefined();

  const dir = tempDir('worker-restore');
  const temporal = await startTemporal();
  try {
    const config = join(dir, 'config.yaml');
    writeFileSync(config, ['clusters:', '  local:', '    context: admin', '    gitlab: [{project: 1, environment: gprd}]', 'policy:', '  approvers: [alice]', `kubeconfig: ${sharedStack().kubeconfig}`].join('\n'));
    const taskQueue = unique('helm-unstuck');
    // The worker as the operator runs it: worker/worker.ts, the operator's clusters and credentials.
    const w = await startWorker({ env: { PATH: process.env.PATH, HOME: process.env.HOME, TEMPORAL_ADDRESS: temporal.address, HELM_UNSTUCK_TASK_QUEUE: taskQueue, HELM_UNSTUCK_CONFIG: config }, log: () => undefined });
    try {
      // Someone else's worker and workflow, on a task queue of their own.
      const theirs = await Worker.create({ connection: temporal.nativeConnection, taskQueue: unique('theirs'), workflowsPath: require.resolve('./hostile/workflows') });
      const answer = await theirs.runUntil(
        temporal.client.workflow.execute<typeof scheduleRestore>('scheduleRestore', {
          taskQueue: theirs.options.taskQueue,
          workflowId: unique('restore-attempt'),
          args: [taskQueue, { cluster: CLUSTER, namespace: o.namespace, driver: 'secret', backupName }],
        }),
      );
      expect(answer).toEqual({ failure: { type: 'NotFoundError', message: expect.stringMatching(/^Activity function restoreRelease is not registered on this Worker/) } });
    } finally {
      await w.shutdown();
    }
  } finally {
    await temporal.teardown();
    await removeDir(dir);
  }
  expect(await now()).toEqual(before);
});
