// A workflow someone with Temporal access could run on a worker of their own: it schedules
// restoreRelease on the helm-unstuck task queue, to undo a legitimate unlock and lock the release
// again. worker.test.ts proves the helm-unstuck worker does not serve it.
import { ActivityFailure, proxyActivities } from '@temporalio/workflow';

interface RestoreRef {
  cluster: string;
  namespace: string;
  driver: 'secret' | 'configmap';
  backupName: string;
}

/** What became of the scheduled restore: its result, or the failure the worker answered with. */
export async function scheduleRestore(taskQueue: string, ref: RestoreRef): Promise<{ result?: unknown; failure?: { message: string; type?: string } }> {
  const acts = proxyActivities<{ restoreRelease(r: RestoreRef): Promise<unknown> }>({
    taskQueue,
    startToCloseTimeout: '1 minute',
    retry: { maximumAttempts: 1 },
  });
  try {
    return { result: await acts.restoreRelease(ref) };
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    const cause = err.cause as { message: string; type?: string } | undefined;
    return { failure: { message: cause?.message ?? err.message, ...(cause?.type ? { type: cause.type } : {}) } };
  }
}
