// An attacker's workflows (issue 20): someone who may start workflows in the Temporal namespace
// runs these on a task queue of their own, and from them schedules our acts on the real worker's
// task queue with what they just read, or with approvals copied from elsewhere. Every one must be
// refused by the act itself. `remediateStuckRelease` borrows our workflow's type, the worst case.
import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../../activities';
import type { Decision } from '../../../decisions/vocabulary';

export interface RogueInput {
  /** The real worker's task queue, where the acts are served. */
  victimQueue: string;
  ref: { cluster: string; namespace: string; release: string };
  act: 'unlock' | 'retry';
  /** Approvals to hand the act: none, or ones copied from another run. */
  approvals?: Decision[];
  project?: number;
  jobId?: number;
}

export type RogueResult = { done: unknown } | { refused: { type: string | undefined; message: string } };

export async function remediateStuckRelease(x: RogueInput): Promise<RogueResult> {
  return act(x);
}

export async function steal(x: RogueInput): Promise<RogueResult> {
  return act(x);
}

async function act(x: RogueInput): Promise<RogueResult> {
  const acts = proxyActivities<Activities>({
    taskQueue: x.victimQueue,
    startToCloseTimeout: '1 minute',
    retry: { maximumAttempts: 1 },
  });
  const h = await acts.readReleaseHistory(x.ref);
  const approved = h.state.pending.map(({ objectName, revision, status, uid, resourceVersion }) => ({ objectName, revision, status, uid, resourceVersion }));
  try {
    if (x.act === 'unlock') {
      return { done: await acts.unlockRelease({ ...x.ref, driver: h.driver ?? 'secret', strategy: 'delete', approved, incident: 'rogue', approvals: x.approvals ?? [] }) };
    }
    return { done: await acts.retryCiJob({ ...x.ref, project: x.project!, jobId: x.jobId!, approved, strategy: 'delete', approvals: x.approvals ?? [] }) };
  } catch (err) {
    const cause = err instanceof ActivityFailure ? err.cause : err;
    return { refused: { type: cause instanceof ApplicationFailure ? cause.type ?? undefined : undefined, message: cause instanceof Error ? cause.message : String(cause) } };
  }
}
