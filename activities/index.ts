// All activities, built from their dependencies (samples-typescript's createActivities pattern):
// tests pass their own cluster registry and clock, the worker passes the real ones.
import type { KubeFor } from './clusters';
import { withFailures } from './failures';
import { createHealthActivities } from './health';
import { createReleaseActivities } from './release';
import { createUnlockActivities } from './unlock';

export interface ActivityDeps {
  kubeFor: KubeFor;
  now?: () => number;
}

/** Every activity, with our typed errors turned into Temporal failures (see failures.ts). */
export function createActivities(deps: ActivityDeps) {
  const now = deps.now ?? Date.now;
  const all = {
    ...createHealthActivities(deps.kubeFor, now),
    ...createReleaseActivities(deps.kubeFor, now),
    ...createUnlockActivities(deps.kubeFor, now),
  };
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(all)) wrapped[name] = withFailures(fn as (...a: unknown[]) => Promise<unknown>);
  return wrapped as typeof all;
}

export type Activities = ReturnType<typeof createActivities>;
