// What workflow tests share: the real Temporal dev server (one per test file), the workflow
// bundle, the fake GitLab (one project per test), and a fresh worker per test.
import { readFileSync, writeFileSync } from 'node:fs';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { join } from 'node:path';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { clusterRegistry } from '../../activities/clusters';
import { GitlabClient } from '../../activities/gitlab';
import { workflowIdFor, type Policy, type RemediationInput } from '../../decisions/remediation';
import { statusQuery, type RemediationStatus } from '../../workflows/definitions';
import { FakeGitlab, type Job } from '../fake-gitlab/server';
import { CLUSTER, unique } from './fixtures';
import { sharedStack } from './shared';
import { startTemporal } from './temporal';

export const GITLAB_TOKEN = 'glpat-helm-unstuck-test';
export const ENVIRONMENT = 'gprd';
export const trace = (name: string) => readFileSync(join(__dirname, '..', 'fixtures', 'traces', name), 'utf8');

export interface Rig {
  env: TestWorkflowEnvironment;
  gitlab: FakeGitlab;
  bundle: WorkflowBundleWithSourceMap;
  stop(): Promise<void>;
}

export async function startRig(): Promise<Rig> {
  const [env, bundle] = await Promise.all([
    startTemporal(),
    bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: quietLogger }),
  ]);
  const gitlab = new FakeGitlab({ token: GITLAB_TOKEN });
  await gitlab.start();
  return {
    env,
    gitlab,
    bundle,
    async stop() {
      await gitlab.stop();
      await env.teardown();
    },
  };
}

const quietLogger = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never;

export function activitiesFor(gitlabUrl: string) {
  const kubeFor = clusterRegistry({ kubeconfig: sharedStack().kubeconfig, contexts: { [CLUSTER]: 'admin' } });
  const client = new GitlabClient(gitlabUrl, GITLAB_TOKEN);
  return createActivities({ kubeFor, gitlab: () => client });
}

export async function newWorker(rig: Rig, taskQueue: string): Promise<Worker> {
  return Worker.create({
    connection: rig.env.nativeConnection,
    taskQueue,
    workflowBundle: rig.bundle,
    activities: activitiesFor(rig.gitlab.url),
  });
}

let nextProject = 100;
/** A GitLab project whose last deploy to ENVIRONMENT failed (the job the runbook re-runs). */
export function gitlabProject(gitlab: FakeGitlab): { project: number; failedJob: Job } {
  const project = nextProject++;
  gitlab.addProject(project, `gitlab-com/gl-infra/k8s-workloads/gitlab-com-${project}`);
  const failedJob = gitlab.addJob(project, {
    name: `${ENVIRONMENT}:upgrade`,
    stage: 'deploy',
    status: 'failed',
    trace: 'Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress\n',
  });
  gitlab.addDeployment(project, { environment: ENVIRONMENT, status: 'failed', job: failedJob });
  return { project, failedJob };
}

export function remediationInput(
  o: { release: string; namespace: string; project: number },
  policy: Partial<Policy> = {},
): RemediationInput {
  return {
    cluster: CLUSTER,
    namespace: o.namespace,
    release: o.release,
    gitlab: [{ project: o.project, environment: ENVIRONMENT }],
    policy: {
      approvers: ['alice', 'bob'],
      minPendingAge: '0s',
      escalateAfter: '1h',
      ciRecheckInterval: '200ms',
      ciMaxChecks: 2,
      ciPollInterval: '200ms',
      ciJobTimeout: '1m',
      ...policy,
    },
    trigger: { source: 'alertmanager', by: 'fingerprint 6a2f0c9e1b7d4e35', summary: `Helm release ${o.namespace}/${o.release} is stuck` },
  };
}

export const incidentId = (o: { release: string; namespace: string }) => workflowIdFor(CLUSTER, o.namespace, o.release);
export const taskQueue = () => unique('tq');

/** Poll the status query until `pred` holds. */
export async function waitForStatus(
  handle: { query: (q: never) => Promise<unknown> },
  pred: (s: RemediationStatus) => boolean,
  timeoutMs = 60_000,
): Promise<RemediationStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: RemediationStatus | undefined;
  while (Date.now() < deadline) {
    try {
      last = (await handle.query(statusQuery as never)) as RemediationStatus;
      if (pred(last)) return last;
    } catch {
      // not started yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`status never matched; last: ${JSON.stringify(last, null, 2)}`);
}

export const HISTORIES_DIR = join(__dirname, '..', 'histories');

/**
 * Save this incident's history as a golden history for the replay tests, when
 * HELM_UNSTUCK_CAPTURE_HISTORIES is set (npm run capture-histories). Otherwise does nothing.
 */
export async function captureHistory(name: string, handle: { fetchHistory: () => Promise<unknown> }): Promise<void> {
  if (!process.env.HELM_UNSTUCK_CAPTURE_HISTORIES) return;
  const json = historyToJSON((await handle.fetchHistory()) as never);
  writeFileSync(join(HISTORIES_DIR, `${name}.json`), JSON.stringify(JSON.parse(json), null, 2) + '\n');
}
