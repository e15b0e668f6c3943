// The worker: connects to Temporal (configured, or the embedded dev server) and serves the
// activities on the helm-unstuck task queue.
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { clusterRegistry, type ClusterConfig } from '../activities/clusters';
import { resolveTemporal, type TemporalTarget } from './temporal';

export interface WorkerOptions {
  env?: NodeJS.ProcessEnv;
  clusters?: ClusterConfig;
  log?: (line: string) => void;
}

export interface RunningWorker {
  worker: Worker;
  target: TemporalTarget;
  /** Resolves when the worker has shut down (on SIGINT/SIGTERM or shutdown()). */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

export async function startWorker(opts: WorkerOptions = {}): Promise<RunningWorker> {
  const log = opts.log ?? ((l: string) => console.error(`helm-unstuck: ${l}`));
  const target = await resolveTemporal(opts.env ?? process.env, log);
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect(target.connectionOptions);
  } catch (err) {
    await target.devServer?.stop();
    throw new Error(`cannot connect to Temporal at ${target.connectionOptions.address}: ${(err as Error).message}`);
  }
  const worker = await Worker.create({
    connection,
    namespace: target.namespace,
    taskQueue: target.taskQueue,
    activities: createActivities({ kubeFor: clusterRegistry(opts.clusters ?? {}) }),
  });
  log(`worker serving task queue "${target.taskQueue}" in namespace "${target.namespace}" at ${target.connectionOptions.address}`);
  const done = worker.run().finally(async () => {
    await connection.close();
    await target.devServer?.stop();
  });
  return {
    worker,
    target,
    done,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}
