// All activities, built from their dependencies (samples-typescript's createActivities pattern):
// tests pass their own cluster registry and clock, the worker passes the real ones.
import type { Decision } from '../decisions/vocabulary';
import { own } from '../decisions/validation';
import { checkMandate, operatorNow, type OperatorSource, type Target } from './act-gate';
import { AdmissionMonitor, type AdmissionCheck } from './admission';
import { createAlertmanagerActivities, type AlertmanagerSettings } from './alertmanager';
import { withAttempt } from './attempt';
import { createCiActivities, isFailedDeployJob, validateRerun, type RerunInput } from './ci';
import type { KubeFor } from './clusters';
import { ApprovalRefusedError, InvalidInputError, withFailures } from './failures';
import type { GitlabClient } from './gitlab';
import { createHealthActivities } from './health';
import { createLiveObjectActivities } from './live-objects';
import { createNotifyActivities, type OutcomeSink } from './notify';
import { createIncidentHistoryActivities } from './incident-history';
import { createPolicyActivities } from './policy';
import { createReleaseActivities } from './release';
import { createRestoreActions } from './restore';
import { createTruncationScanActivities } from './truncation-scan';
import { createUnlockActivities, type ApprovedRecord, type UnlockInput, type UnlockStrategy } from './unlock';

export interface ActivityDeps {
  kubeFor: KubeFor;
  /** The ops GitLab instance; unset, CI activities fail with a clear configuration error. */
  gitlab?: () => GitlabClient;
  now?: () => number;
  /** Counts incident outcomes and step durations (the serve process's /metrics). */
  outcomes?: OutcomeSink;
  /**
   * The operator's configuration loadPolicy answers from and the acts check approvals against: a
   * fixed one, or a function giving it as it is now (the worker's reads its file again when it
   * changes). Unset, loadPolicy refuses every cluster and nothing acts.
   */
  operator?: OperatorSource;
  /** How long unlockRelease's retry waits for an earlier attempt's request (UNLOCK_SETTLE_MS); tests shorten it. */
  unlockSettleMs?: number;
  /**
   * Whether unlockRelease may act on a cluster as far as the admission policy goes: by default the
   * operator's clusters.<name>.admissionPolicy (unset or no configuration: required), probed at act time.
   */
  admission?: AdmissionCheck;
  /** Where requests for a human are posted as alerts (alertmanager.url) and linked to (server.externalUrl); unset, nothing is posted. */
  alertmanager?: AlertmanagerSettings;
}

const noGitlab = (): GitlabClient => {
  throw new InvalidInputError('GitLab is not configured: set HELM_UNSTUCK_GITLAB_URL and HELM_UNSTUCK_GITLAB_TOKEN');
};

/** The approvals the workflow accepted, with serve's proofs: what an act checks for itself. */
export interface Approvals {
  approvals: Decision[];
}

/** The unlock, as the worker serves it: the approved records, and the approvals of exactly them. */
export type GatedUnlockInput = UnlockInput & Approvals;

/** The CI re-run, as the worker serves it: which incident, which plan was approved, and by whom. */
export type GatedRerunInput = RerunInput & Target & Approvals & { approved: ApprovedRecord[]; strategy: UnlockStrategy };

/**
 * The acts, gated: each checks, here in the worker, at the moment it acts, that the incident's own
 * workflow run calls it with approvals that hold against the configuration now (act-gate.ts).
 */
/** The unlock's own mechanics, with the admission policy's check (admission.ts) and the settle wait. */
function unlockMechanics(deps: ActivityDeps, now: () => number) {
  return createUnlockActivities(deps.kubeFor, now, {
    admission: deps.admission ?? new AdmissionMonitor(deps.kubeFor, operatorNow(deps.operator)?.clusters ?? {}).check,
    ...(deps.unlockSettleMs === undefined ? {} : { settleMs: deps.unlockSettleMs }),
  });
}

function createActs(deps: ActivityDeps, now: () => number) {
  const { unlockRelease } = unlockMechanics(deps, now);
  const gitlab = deps.gitlab ?? noGitlab;
  const { retryCiJob } = createCiActivities(gitlab, now);
  return {
    async unlockRelease(input: GatedUnlockInput) {
      checkMandate('the unlock', deps.operator, input, { approved: input?.approved, strategy: input?.strategy, decisions: input?.approvals });
      return unlockRelease(input);
    },
    async retryCiJob(input: GatedRerunInput) {
      validateRerun(input);
      const { config } = checkMandate(`the re-run of job ${input.jobId}`, deps.operator, input, { approved: input.approved, strategy: input.strategy, decisions: input.approvals });
      const watch = own(config.clusters, input.cluster)?.gitlab.find((w) => String(w.project) === String(input.project));
      if (!watch) throw new ApprovalRefusedError(`the re-run of job ${input.jobId} refused: project ${input.project} is not configured for cluster ${input.cluster}; nothing was changed`);
      if (!(await isFailedDeployJob(gitlab(), watch, input.jobId))) {
        throw new ApprovalRefusedError(`the re-run of job ${input.jobId} refused: it is not the job of a failed deployment to ${watch.environment} in project ${watch.project}; nothing was changed`);
      }
      return retryCiJob({ project: input.project, jobId: input.jobId });
    },
  };
}

/** Our typed errors turned into Temporal failures (failures.ts), each attempt heartbeating (attempt.ts). */
function wrapAll<T extends object>(all: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(all)) wrapped[name] = withAttempt(withFailures(fn as (...a: unknown[]) => Promise<unknown>));
  return wrapped as T;
}

function observers(deps: ActivityDeps, now: () => number) {
  return {
    ...createHealthActivities(deps.kubeFor, now),
    ...createReleaseActivities(deps.kubeFor, now),
    ...createLiveObjectActivities(deps.kubeFor, now),
    ...createCiActivities(deps.gitlab ?? noGitlab, now),
    ...createNotifyActivities(now, deps.outcomes),
    ...createAlertmanagerActivities(deps.alertmanager, now),
    ...createPolicyActivities(deps.operator),
    ...createTruncationScanActivities(deps.kubeFor, deps.operator, now),
    ...createIncidentHistoryActivities(),
  };
}

/**
 * Every activity the worker serves: the reads, and the acts gated by their own check of the
 * approval (createActs).
 */
export function createActivities(deps: ActivityDeps) {
  const now = deps.now ?? Date.now;
  return wrapAll({ ...observers(deps, now), ...createActs(deps, now) });
}

/**
 * What the acts do once their approval holds, with no gate: for the tests of the unlock's and the
 * re-run's own mechanics. Never served by a worker.
 */
export function createMechanisms(deps: ActivityDeps) {
  const now = deps.now ?? Date.now;
  return wrapAll({
    ...observers(deps, now),
    ...unlockMechanics(deps, now),
  });
}

/**
 * The operator's own actions (restore), for the CLI: never registered on a worker, so no workflow
 * can schedule them (restore.ts says why). Failures are typed as the activities' are.
 */
export function createOperatorActions(deps: Pick<ActivityDeps, 'kubeFor'>) {
  return wrapAll(createRestoreActions(deps.kubeFor));
}

export type Activities = ReturnType<typeof createActivities>;
