// A worker in a process of its own, so a test can SIGKILL it mid-incident. Configured by env:
// TEMPORAL_ADDRESS, TASK_QUEUE, GITLAB_URL, KUBECONFIG_FILE, WORKFLOW_BUNDLE (path to bundle code),
// OPERATOR_CONFIG (the operator's configuration as JSON: clusters, policy, decisionKeys).
import { readFileSync } from 'node:fs';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { clusterRegistry } from '../../activities/clusters';
import { GitlabClient } from '../../activities/gitlab';
import type { OperatorConfig } from '../../activities/policy';
import { CLUSTER } from './fixtures';
import { GITLAB_TOKEN } from './incident-rig';

async function main() {
  const env = (k: string) => {
    const v = process.env[k];
    if (!v) throw new Error(`${k} is not set`);
    return v;
  };
  const connection = await NativeConnection.connect({ address: env('TEMPORAL_ADDRESS') });
  const gitlab = new GitlabClient(env('GITLAB_URL'), GITLAB_TOKEN);
  const worker = await Worker.create({
    connection,
    taskQueue: env('TASK_QUEUE'),
    workflowBundle: { code: readFileSync(env('WORKFLOW_BUNDLE'), 'utf8') },
    activities: createActivities({
      kubeFor: clusterRegistry({ kubeconfig: env('KUBECONFIG_FILE'), contexts: { [CLUSTER]: 'admin' } }),
      gitlab: () => gitlab,
      operator: JSON.parse(env('OPERATOR_CONFIG')) as OperatorConfig,
    }),
  });
  process.stdout.write('worker ready\n');
  await worker.run();
}
main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
