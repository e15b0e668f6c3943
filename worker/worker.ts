// The worker: connects to Temporal (configured, or the embedded dev server) and serves the
// activities on the helm-unstuck task queue, with the operator's configuration: its clusters (and
// no others) and the policy loadPolicy hands each incident.
import { existsSync } from 'node:fs';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { AdmissionMonitor } from '../activities/admission';
import { clusterRegistry } from '../activities/clusters';
import { GitlabClient } from '../activities/gitlab';
import type { OutcomeSink } from '../activities/notify';
import { ConfigError, configNow, loadConfig, type Config } from '../lib/config';
import { registerSearchAttributes } from '../client/temporal-setup';
import { PREBUILT_BUNDLE } from './bundle';
import { WORKER_CAPACITY } from './capacity';
import { resolveTemporal, type TemporalTarget } from './temporal';

/** The ops GitLab instance, from HELM_UNSTUCK_GITLAB_URL and HELM_UNSTUCK_GITLAB_TOKEN. */
export function gitlabFromEnv(env: NodeJS.ProcessEnv): (() => GitlabClient) | undefined {
  const url = env.HELM_UNSTUCK_GITLAB_URL;
  const token = env.HELM_UNSTUCK_GITLAB_TOKEN;
  if (!url && !token) return undefined;
  if (!url || !token) throw new ConfigError(['set both HELM_UNSTUCK_GITLAB_URL and HELM_UNSTUCK_GITLAB_TOKEN, or neither']);
  try {
    new URL(url);
  } catch {
    throw new ConfigError([`HELM_UNSTUCK_GITLAB_URL is not a URL: ${url}`]);
  }
  const client = new GitlabClient(url, token);
  return () => client;
}

export interface WorkerOptions {
  env?: NodeJS.ProcessEnv;
  /** The operator's configuration (clusters, policy, GitLab); by default loadConfig(env). */
  config?: Config;
  /** A kubeconfig file that wins over the configuration's (`worker --kubeconfig`). */
  kubeconfig?: string;
  outcomes?: OutcomeSink;
  /** serve's, so /healthz and the metric show what unlocks see; by default the worker's own, probed at start. */
  admission?: AdmissionMonitor;
  log?: (line: string) => void;
}

/** The configured clusters' kubeconfig contexts (a cluster's own name unless it names one). */
export function clustersOf(config: Pick<Config, 'clusters' | 'kubeconfig'>, kubeconfig = config.kubeconfig) {
  return {
    ...(kubeconfig ? { kubeconfig } : {}),
    contexts: Object.fromEntries(Object.entries(config.clusters).map(([name, c]) => [name, c.context ?? name])),
  };
}

/**
 * The incidents' search attributes, registered if missing: an incident that sets one the server
 * does not know cannot run. A role that may not register them is told how to have it done.
 */
async function searchAttributesOrSay(connection: NativeConnection, namespace: string, log: (l: string) => void): Promise<void> {
  try {
    const { added } = await registerSearchAttributes(connection.operatorService, namespace);
    if (added.length > 0) log(`registered the search attributes ${added.join(', ')} in namespace "${namespace}"`);
  } catch (err) {
    log(`could not check or register the incidents' search attributes in namespace "${namespace}" (${(err as Error).message}); unless they are registered, incidents cannot run: run 'helm-unstuck temporal setup' with a role that may`);
  }
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
  const env = opts.env ?? process.env;
  const config = opts.config ?? loadConfig(env);
  const gitlab = config.gitlab ? ((c) => () => c)(new GitlabClient(config.gitlab.url, config.gitlab.token)) : gitlabFromEnv(env);
  if (Object.keys(config.clusters).length === 0) log('no clusters configured (HELM_UNSTUCK_CONFIG: clusters): every incident will be refused');
  if (!gitlab) log('GitLab is not configured (HELM_UNSTUCK_GITLAB_URL, HELM_UNSTUCK_GITLAB_TOKEN): CI steps will fail until it is');
  const kubeFor = clusterRegistry(clustersOf(config, opts.kubeconfig));
  const admission = opts.admission ?? new AdmissionMonitor(kubeFor, config.clusters);
  // serve probes with its own; alone, the worker probes at start, not waited for (a frozen cluster
  // must not hold up the start: unlocks probe again when they act).
  if (!opts.admission) void admission.probeAll(log);
  // The configuration's task queue (HELM_UNSTUCK_TASK_QUEUE, else its file's taskQueue): the one serve starts incidents on.
  const target = await resolveTemporal({ ...env, HELM_UNSTUCK_TASK_QUEUE: config.taskQueue }, log);
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect(target.connectionOptions);
  } catch (err) {
    await target.devServer?.stop();
    throw new Error(`cannot connect to Temporal at ${target.connectionOptions.address}: ${(err as Error).message}`);
  }
  await searchAttributesOrSay(connection, target.namespace, log);
  const worker = await Worker.create({
    connection,
    namespace: target.namespace,
    taskQueue: target.taskQueue,
    ...WORKER_CAPACITY,
    // Built with dist/ (worker/bundle.ts); from the sources, bundled here.
    ...(existsSync(PREBUILT_BUNDLE) ? { workflowBundle: { codePath: PREBUILT_BUNDLE } } : { workflowsPath: require.resolve('../workflows') }),
    activities: createActivities({
      kubeFor,
      // Read again when its file changes: the acts check approvals against the configuration now.
      operator: configNow(env, config),
      admission: admission.check,
      ...(gitlab ? { gitlab } : {}),
      ...(opts.outcomes ? { outcomes: opts.outcomes } : {}),
      alertmanager: { ...(config.alertmanager ? { url: config.alertmanager.url } : {}), ...(config.server.externalUrl ? { externalUrl: config.server.externalUrl } : {}) },
    }),
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
