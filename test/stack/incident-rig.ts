// What workflow tests share: the real Temporal dev server (one per test file), the workflow
// bundle, the fake GitLab (one project per test), and a fresh worker per test, configured as an
// operator would configure it (the cluster, its GitLab project, the policy, serve's public key).
import { readFileSync, writeFileSync } from 'node:fs';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { join } from 'node:path';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Client } from '@temporalio/client';
import { createActivities, type Activities } from '../../activities';
import type { AlertmanagerSettings } from '../../activities/alertmanager';
import { clusterRegistry } from '../../activities/clusters';
import { GitlabClient } from '../../activities/gitlab';
import type { OperatorConfig } from '../../activities/policy';
import type { OperatorSource } from '../../activities/act-gate';
import { publicKeyOf, signProof, type DecisionProof, type ProofBinding } from '../../decisions/decision-proof';
import { principalOf } from '../../decisions/principal';
import { workflowIdFor, type Decision } from '../../decisions/vocabulary';
import type { PolicyConfig, RemediationInput } from '../../decisions/schemas';
import { decide } from '../../client/incidents';
import { statusQuery, type RemediationStatus } from '../../workflows/definitions';
import { FakeGitlab, type Job } from '../fake-gitlab/server';
import { waitFor } from '../wait-for';
import { adminNeedsNoPolicy, CLUSTER, unique } from './fixtures';
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

/** A rig on the dev server, or on the Temporal `startEnv` connects to (the production-shaped one). */
export async function startRig(startEnv: () => Promise<TestWorkflowEnvironment> = startTemporal): Promise<Rig> {
  const [env, bundle] = await Promise.all([
    startEnv(),
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

/** The key "serve" signs decisions with in the tests; the rig's operator trusts its public key. */
export const SERVE_KEY = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
/** Another Ed25519 key, configured nowhere: a proof signed with it must be refused. */
export const STRANGER_KEY = Uint8Array.from({ length: 32 }, (_, i) => 100 + i);

/**
 * The rig operator's default policy: quick timers, alice and bob approve. It allows unverified
 * decisions so that tests about other things can decide straight through Temporal; the tests
 * about identity set `allowUnverifiedDecisions: false`, the product's default.
 */
export const RIG_POLICY: PolicyConfig = {
  approvers: ['alice', 'bob'],
  minPendingAge: '0s',
  escalateAfter: '1h',
  ciRecheckInterval: '200ms',
  ciMaxChecks: 2,
  ciPollInterval: '200ms',
  ciJobTimeout: '1m',
  allowUnverifiedDecisions: true,
};

/** What one test's operator configures, beyond the rig's defaults. */
export interface RigOperator {
  /** The cluster's GitLab project (from gitlabProject); default: a new one. */
  project?: number;
  /** Overrides of RIG_POLICY for this test (as the configuration's `policy`). */
  policy?: PolicyConfig;
  /** The cluster's own overrides (`clusters.<CLUSTER>.policy`). */
  clusterPolicy?: PolicyConfig;
  /** Public keys trusted for decisions; default: SERVE_KEY's. */
  decisionKeys?: string[];
  /** Where the worker posts requests as alerts, and serve's external URL they link to; default: nowhere. */
  alertmanager?: AlertmanagerSettings;
}

/**
 * The operator's configuration a test's worker runs with: the one cluster CLUSTER, as the admin,
 * whom no admission policy narrows (so not required; see adminNeedsNoPolicy in fixtures.ts).
 */
export function operatorConfig(rig: Pick<Rig, 'gitlab'>, o: RigOperator = {}): OperatorConfig {
  const project = o.project ?? gitlabProject(rig.gitlab).project;
  return {
    clusters: { [CLUSTER]: { context: 'admin', gitlab: [{ project, environment: ENVIRONMENT }], admissionPolicy: 'not-required', ...(o.clusterPolicy ? { policy: o.clusterPolicy } : {}) } },
    policy: { ...RIG_POLICY, ...o.policy },
    decisionKeys: o.decisionKeys ?? [publicKeyOf(SERVE_KEY)],
  };
}

export function activitiesFor(gitlabUrl: string, operator?: OperatorSource, alertmanager?: AlertmanagerSettings) {
  const kubeFor = clusterRegistry({ kubeconfig: sharedStack().kubeconfig, contexts: { [CLUSTER]: 'admin' } });
  const client = new GitlabClient(gitlabUrl, GITLAB_TOKEN);
  return createActivities({ kubeFor, gitlab: () => client, ...(operator ? { operator } : { admission: adminNeedsNoPolicy(kubeFor) }), ...(alertmanager ? { alertmanager } : {}) });
}

/**
 * A fresh worker on its own task queue, configured by this test's operator. `around` replaces
 * activities, e.g. to act as another person would at an exact point of the runbook (a race,
 * injected where it happens rather than by sleeping).
 */
export async function newWorker(rig: Rig, taskQueue: string, operator: RigOperator = {}, around?: (real: Activities) => Partial<Activities>): Promise<Worker> {
  const real = activitiesFor(rig.gitlab.url, operatorConfig(rig, operator), operator.alertmanager);
  return Worker.create({
    connection: rig.env.nativeConnection,
    taskQueue,
    workflowBundle: rig.bundle,
    activities: { ...real, ...around?.(real) },
  });
}

/** The hold open now, by its number, of the run running now: what a proof answers. */
export async function bindingOf(client: Client, incident: string): Promise<ProofBinding> {
  const st = await client.workflow.getHandle(incident).query(statusQuery);
  return { run: st.run ?? '', hold: st.hold ?? 'approval', seq: st.holdSeq ?? 0 };
}

type ProofOptions = Partial<Omit<DecisionProof, 'signature'>> & { key?: Uint8Array };

/** serve's proof for a decision (by default: a token login, through the API, signed now with SERVE_KEY). */
export function proofFor(incident: string, d: Decision, o: ProofOptions & ProofBinding): DecisionProof {
  const { key = SERVE_KEY, ...p } = o;
  const verifiedBy = p.verifiedBy ?? 'token';
  return signProof(incident, d, { verifiedBy, via: 'api', principal: principalOf(verifiedBy, d.by), at: new Date().toISOString(), ...p }, key);
}

/**
 * Decide as a person serve verified: at the approval gate on the plan shown now (unless `d.plan`
 * says which), signed as `proofFor` signs.
 */
export async function decideVerified(client: Client, incident: string, d: Decision, o: ProofOptions = {}) {
  let plan = d.plan;
  if (plan === undefined) {
    const st = await client.workflow.getHandle(incident).query(statusQuery);
    if (st.hold === 'approval') plan = st.view.plan?.digest;
  }
  const decision = { ...d, ...(plan !== undefined ? { plan } : {}) };
  return decide(client, incident, { ...decision, proof: proofFor(incident, decision, { ...(await bindingOf(client, incident)), ...o }) });
}

/** The plan digest the approval gate asks about now. */
export async function currentPlan(client: Client, incident: string): Promise<string> {
  const st = await client.workflow.getHandle(incident).query(statusQuery);
  if (!st.view.plan) throw new Error(`incident ${incident} shows no plan (step ${st.step})`);
  return st.view.plan.digest;
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

/** What an incident is about, as the receiver sends it: no policy, no GitLab projects. */
export function remediationInput(o: { release: string; namespace: string }): RemediationInput {
  return {
    cluster: CLUSTER,
    namespace: o.namespace,
    release: o.release,
    trigger: { source: 'alertmanager', by: 'fingerprint 6a2f0c9e1b7d4e35', summary: `Helm release ${o.namespace}/${o.release} is stuck` },
  };
}

export const incidentId = (o: { release: string; namespace: string }) => workflowIdFor(CLUSTER, o.namespace, o.release);
export const taskQueue = () => unique('tq');

/** Poll the status query until `pred` holds (a query before the workflow starts counts as "not yet"). */
export function waitForStatus(
  handle: { query: (q: never) => Promise<unknown> },
  pred: (s: RemediationStatus) => boolean,
  timeoutMs = 60_000,
): Promise<RemediationStatus> {
  const status = async () => (await handle.query(statusQuery as never)) as RemediationStatus;
  return waitFor('the status query to match', status, pred, { timeoutMs });
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
