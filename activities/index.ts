// All activities, built from their dependencies (samples-typescript's createActivities pattern):
// tests pass their own cluster registry and clock, the worker passes the real ones.
import { AdmissionMonitor, type AdmissionCheck } from './admission';
import { withAttempt } from './attempt';
import { createCiActivities } from './ci';
import type { KubeFor } from './clusters';
import { InvalidInputError } from './failures';
import type { GitlabClient } from './gitlab';
import { withFailures } from './failures';
import { createHealthActivities } from './health';
import { createLiveObjectActivities } from './live-objects';
import { createNotifyActivities, type OutcomeSink } from './notify';
import { createPolicyActivities, type OperatorConfig } from './policy';
import { createReleaseActivities } from './release';
import { createUnlockActivities } from './unlock';

export interface ActivityDeps {
  kubeFor: KubeFor;
  /** The ops GitLab instance; unset, CI activities fail with a clear configuration error. */
  gitlab?: () => GitlabClient;
  now?: () => number;
  /** Counts incident outcomes and step durations (the serve process's /metrics). */
  outcomes?: OutcomeSink;
  /** The operator's configuration loadPolicy answers from; unset, loadPolicy refuses every cluster. */
  operator?: OperatorConfig;
  /** How long unlockRelease's retry waits for an earlier attempt's request (UNLOCK_SETTLE_MS); tests shorten it. */
  unlockSettleMs?: number;
  /**
   * Whether unlockRelease may act on a cluster as far as the admission policy goes: by default the
   * operator's clusters.<name>.admissionPolicy (unset or no configuration: required), probed at act time.
   */
  admission?: AdmissionCheck;
}

const noGitlab = (): GitlabClient => {
  throw new InvalidInputError('GitLab is not configured: set HELM_UNSTUCK_GITLAB_URL and HELM_UNSTUCK_GITLAB_TOKEN');
};

/**
 * Every activity, with our typed errors turned into Temporal failures (see failures.ts), each
 * attempt heartbeating and its requests ending with it (attempt.ts).
 */
export function createActivities(deps: ActivityDeps) {
  const now = deps.now ?? Date.now;
  const all = {
    ...createHealthActivities(deps.kubeFor, now),
    ...createReleaseActivities(deps.kubeFor, now),
    ...createLiveObjectActivities(deps.kubeFor, now),
    ...createUnlockActivities(deps.kubeFor, now, {
      admission: deps.admission ?? new AdmissionMonitor(deps.kubeFor, deps.operator?.clusters ?? {}).check,
      ...(deps.unlockSettleMs === undefined ? {} : { settleMs: deps.unlockSettleMs }),
    }),
    ...createCiActivities(deps.gitlab ?? noGitlab, now),
    ...createNotifyActivities(now, deps.outcomes),
    ...createPolicyActivities(deps.operator),
  };
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(all)) wrapped[name] = withAttempt(withFailures(fn as (...a: unknown[]) => Promise<unknown>));
  return wrapped as typeof all;
}

export type Activities = ReturnType<typeof createActivities>;
