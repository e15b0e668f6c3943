// All activities, built from their dependencies (samples-typescript's createActivities pattern):
// tests pass their own cluster registry and clock, the worker passes the real ones.
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
import { createRestoreActions } from './restore';
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
}

const noGitlab = (): GitlabClient => {
  throw new InvalidInputError('GitLab is not configured: set HELM_UNSTUCK_GITLAB_URL and HELM_UNSTUCK_GITLAB_TOKEN');
};

/** Our typed errors turned into Temporal failures (failures.ts), each attempt heartbeating (attempt.ts). */
function wrapAll<T extends object>(all: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(all)) wrapped[name] = withAttempt(withFailures(fn as (...a: unknown[]) => Promise<unknown>));
  return wrapped as T;
}

/**
 * Every activity the worker serves to workflows (restore is not one: createOperatorActions), with
 * our typed errors turned into Temporal failures (see failures.ts), each attempt heartbeating and
 * its requests ending with it (attempt.ts).
 */
export function createActivities(deps: ActivityDeps) {
  const now = deps.now ?? Date.now;
  const all = {
    ...createHealthActivities(deps.kubeFor, now),
    ...createReleaseActivities(deps.kubeFor, now),
    ...createLiveObjectActivities(deps.kubeFor, now),
    ...createUnlockActivities(deps.kubeFor, now, deps.unlockSettleMs === undefined ? {} : { settleMs: deps.unlockSettleMs }),
    ...createCiActivities(deps.gitlab ?? noGitlab, now),
    ...createNotifyActivities(now, deps.outcomes),
    ...createPolicyActivities(deps.operator),
  };
  return wrapAll(all);
}

/**
 * The operator's own actions (restore), for the CLI: never registered on a worker, so no workflow
 * can schedule them (restore.ts says why). Failures are typed as the activities' are.
 */
export function createOperatorActions(deps: Pick<ActivityDeps, 'kubeFor'>) {
  return wrapAll(createRestoreActions(deps.kubeFor));
}

export type Activities = ReturnType<typeof createActivities>;
