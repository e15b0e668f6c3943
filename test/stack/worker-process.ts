// A worker in a process of its own, so a test can SIGKILL it mid-incident. Configured by env:
// TEMPORAL_ADDRESS, TASK_QUEUE, GITLAB_URL, KUBECONFIG_FILE, WORKFLOW_BUNDLE (path to bundle code),
// OPERATOR_CONFIG (the operator's configuration as JSON: clusters, policy, decisionKeys; each
// cluster's kubeconfig context is used as configured), and optionally CHAOS_PAUSE (see pauseAt):
// the chaos matrix's way to stop at an exact activity boundary and let the harness kill this
// process (or anything else) there.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { clusterRegistry } from '../../activities/clusters';
import { GitlabClient } from '../../activities/gitlab';
import type { OperatorConfig } from '../../activities/policy';
import { GITLAB_TOKEN } from './incident-rig';

async function main() {
  const env = (k: string) => {
    const v = process.env[k];
    if (!v) throw new Error(`${k} is not set`);
    return v;
  };
  const connection = await NativeConnection.connect({ address: env('TEMPORAL_ADDRESS') });
  const gitlab = new GitlabClient(env('GITLAB_URL'), GITLAB_TOKEN);
  const operator = JSON.parse(env('OPERATOR_CONFIG')) as OperatorConfig;
  const contexts = Object.fromEntries(Object.entries(operator.clusters ?? {}).map(([name, c]) => [name, c.context ?? name]));
  const worker = await Worker.create({
    connection,
    taskQueue: env('TASK_QUEUE'),
    workflowBundle: { code: readFileSync(env('WORKFLOW_BUNDLE'), 'utf8') },
    activities: pauseAt(
      process.env.CHAOS_PAUSE ?? '',
      createActivities({
        kubeFor: clusterRegistry({ kubeconfig: env('KUBECONFIG_FILE'), contexts }),
        gitlab: () => gitlab,
        operator,
      }),
    ),
  });
  process.stdout.write('worker ready\n');
  await worker.run();
}
/**
 * CHAOS_PAUSE=<activity>:<before|after>[:<nth call>] (comma-separated for several): at that
 * boundary (before the activity does anything, or after it did its work but before its result
 * goes back to Temporal) print `chaos-paused <point>` and wait for the line `resume` on stdin.
 * The harness SIGKILLs the process there, or faults another component and then lets it go on.
 * (Not a signal: the SDK's worker shuts down on SIGUSR2.)
 */
function pauseAt<T extends Record<string, unknown>>(spec: string, activities: T): T {
  const points = new Set(spec.split(',').filter(Boolean).map((p) => (p.split(':').length === 2 ? `${p}:1` : p)));
  if (points.size === 0) return activities;
  const waiting: (() => void)[] = [];
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() === 'resume') waiting.shift()?.();
  });
  const calls = new Map<string, number>();
  const pause = async (point: string) => {
    if (!points.has(point)) return;
    const resumed = new Promise<void>((ok) => waiting.push(ok));
    process.stdout.write(`chaos-paused ${point}\n`);
    await resumed;
  };
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: unknown[]) => {
      const n = (calls.get(name) ?? 0) + 1;
      calls.set(name, n);
      await pause(`${name}:before:${n}`);
      const result: unknown = await (fn as (...a: unknown[]) => Promise<unknown>)(...args);
      await pause(`${name}:after:${n}`);
      return result;
    };
  }
  return wrapped as T;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
