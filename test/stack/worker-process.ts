// A worker in a process of its own, so a test can SIGKILL it mid-incident. Configured by env:
// Temporal by the SDK's conventions, as the product's worker reads them (TEMPORAL_ADDRESS, or a
// TEMPORAL_CONFIG_FILE profile with its namespace and client certificate), TASK_QUEUE, GITLAB_URL,
// KUBECONFIG_FILE, WORKFLOW_BUNDLE (path to bundle code), OPERATOR_CONFIG (the operator's
// configuration as JSON: clusters, policy, decisionKeys; each cluster's kubeconfig context is used
// as configured), and optionally CHAOS_PAUSE (see pausePoints): the chaos matrix's way to stop at
// an exact activity boundary, or around one Kubernetes request inside an activity, and let the
// harness kill this process (or fault anything else) there.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { clusterRegistry, type KubeFor } from '../../activities/clusters';
import { GitlabClient } from '../../activities/gitlab';
import type { OperatorConfig } from '../../activities/policy';
import { temporalProfile } from '../../worker/temporal';
import { GITLAB_TOKEN } from './incident-rig';

async function main() {
  const env = (k: string) => {
    const v = process.env[k];
    if (!v) throw new Error(`${k} is not set`);
    return v;
  };
  const { connectionOptions, namespace } = temporalProfile(process.env);
  if (!connectionOptions.address) throw new Error('TEMPORAL_ADDRESS (or a TEMPORAL_CONFIG_FILE profile) is not set');
  const connection = await NativeConnection.connect(connectionOptions);
  const gitlab = new GitlabClient(env('GITLAB_URL'), GITLAB_TOKEN);
  const operator = JSON.parse(env('OPERATOR_CONFIG')) as OperatorConfig;
  const contexts = Object.fromEntries(Object.entries(operator.clusters ?? {}).map(([name, c]) => [name, c.context ?? name]));
  const pauses = pausePoints(process.env.CHAOS_PAUSE ?? '');
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue: env('TASK_QUEUE'),
    workflowBundle: { code: readFileSync(env('WORKFLOW_BUNDLE'), 'utf8') },
    activities: pauses.aroundActivities(
      createActivities({
        kubeFor: pauses.aroundKube(clusterRegistry({ kubeconfig: env('KUBECONFIG_FILE'), contexts })),
        gitlab: () => gitlab,
        operator,
      }),
    ),
  });
  process.stdout.write('worker ready\n');
  await worker.run();
}
/**
 * CHAOS_PAUSE=<point>[,<point>…], each point `<activity>:<before|after>[:<nth call>]` or
 * `kube.<KubeApi method>:<before|after>[:<nth call>]`: at that boundary (before the activity or
 * request does anything, or after it did its work but before its result goes on: to Temporal, or
 * to the activity that made the request) print `chaos-paused <point>` and wait for the line
 * `resume` on stdin. The harness SIGKILLs the process there, or faults another component and then
 * lets it go on. `kube.createRecord:after:1` is the moment the unlock's backup is written and its
 * DELETE not yet sent. (Not a signal: the SDK's worker shuts down on SIGUSR2.)
 */
function pausePoints(spec: string) {
  const points = new Set(spec.split(',').filter(Boolean).map((p) => (p.split(':').length === 2 ? `${p}:1` : p)));
  const waiting: (() => void)[] = [];
  if (points.size > 0) {
    createInterface({ input: process.stdin }).on('line', (line) => {
      if (line.trim() === 'resume') waiting.shift()?.();
    });
  }
  const calls = new Map<string, number>();
  const pause = async (point: string) => {
    if (!points.has(point)) return;
    const resumed = new Promise<void>((ok) => waiting.push(ok));
    process.stdout.write(`chaos-paused ${point}\n`);
    await resumed;
  };
  /** `fn`, pausing at `name`'s before and after points of each call (counted per name). */
  const around =
    <F extends (...a: never[]) => unknown>(name: string, fn: F, self?: unknown) =>
    async (...args: Parameters<F>): Promise<Awaited<ReturnType<F>>> => {
      const n = (calls.get(name) ?? 0) + 1;
      calls.set(name, n);
      await pause(`${name}:before:${n}`);
      const result = (await fn.apply(self, args)) as Awaited<ReturnType<F>>;
      await pause(`${name}:after:${n}`);
      return result;
    };
  const kubePoints = [...points].some((p) => p.startsWith('kube.'));
  return {
    aroundActivities<T extends Record<string, unknown>>(activities: T): T {
      if (points.size === 0) return activities;
      const wrapped: Record<string, unknown> = {};
      for (const [name, fn] of Object.entries(activities)) wrapped[name] = around(name, fn as (...a: unknown[]) => Promise<unknown>);
      return wrapped as T;
    },
    /** Each cluster's KubeApi with its requests counted (across clusters) and paused at `kube.` points. */
    aroundKube(kubeFor: KubeFor): KubeFor {
      if (!kubePoints) return kubeFor;
      return (cluster) =>
        new Proxy(kubeFor(cluster), {
          get(target, prop, receiver) {
            const value: unknown = Reflect.get(target, prop, receiver);
            return typeof value === 'function' ? around(`kube.${String(prop)}`, value as (...a: unknown[]) => unknown, target) : value;
          },
        });
    },
  };
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
