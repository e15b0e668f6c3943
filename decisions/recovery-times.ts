// The times the people paged care about, from one incident's clock: from the release going stuck
// to Helm showing it deployed again, how long each hold waited for a human's answer, and how long
// the incident lasted. Pure: the workflow computes them at its end and hands them to reportOutcome.
import type { Hold } from './vocabulary';

/** One hold a human answered: which, and how long after it opened. */
export interface DecisionWait {
  hold: Hold;
  seconds: number;
}

/** What the workflow's clock keeps for these times (workflow time, milliseconds). */
export interface RecoveryClock {
  startedAt: number;
  /** When Helm was seen showing the release deployed again. */
  verifiedAt?: number;
  decisionWaits: DecisionWait[];
}

export interface RecoveryTimes {
  incidentSeconds: number;
  /** From the pending record's time to verification; only when both are known. */
  stuckToVerifiedSeconds?: number;
  decisionWaits: DecisionWait[];
}

const seconds = (ms: number) => Math.max(0, ms) / 1000;

/**
 * The incident's times at `now`. `pendingSince` is Helm's record time (an ISO string read from the
 * cluster): unparsable, or after the verification (a clock skewed between cluster and worker), it
 * gives no stuck-to-verified figure rather than a wrong one.
 */
export function recoveryTimes(clock: RecoveryClock, pendingSince: string | undefined, now: number): RecoveryTimes {
  const since = pendingSince === undefined ? NaN : Date.parse(pendingSince);
  const verified = clock.verifiedAt;
  const stuck = verified !== undefined && Number.isFinite(since) && since <= verified ? { stuckToVerifiedSeconds: seconds(verified - since) } : {};
  return { incidentSeconds: seconds(now - clock.startedAt), ...stuck, decisionWaits: clock.decisionWaits.map((w) => ({ ...w })) };
}
