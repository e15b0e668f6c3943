// Repeat offenders: a release unlocked again and again (a CI timeout shorter than helm's, a runner
// always killed) has a cause an unlock does not fix. The incident shows its release's earlier
// incidents in the policy's window, and once the release was unlocked as often as the policy
// allows, the next unlock waits for a human to look at the cause first (a circuit breaker).
import { formatDuration } from './duration';
import type { Outcome } from './vocabulary';

/** The policy's limit: at most `unlocks` unlocks of one release in `windowMs`. */
export interface RepeatLimit {
  unlocks: number;
  windowMs: number;
}

/** The window earlier incidents are shown for when the policy has no limit (an older history's). */
export const DEFAULT_REPEAT_WINDOW_MS = 7 * 86_400_000;

/** One earlier incident of the same release, as visibility lists it. */
export interface EarlierIncident {
  /** When it started (ISO 8601). */
  started: string;
  /** How it ended; undefined while it runs, or for an incident from before the search attributes. */
  outcome?: Outcome | string;
}

/** The outcomes only an unlock reaches: verified deployed again, or unlocked and its re-run to be reviewed. */
export const UNLOCKED_OUTCOMES: readonly string[] = ['unstuck-and-verified', 'needs-review'];

export interface RepeatJudgement {
  /** Hold for a human before this unlock. */
  hold: boolean;
  unlocks: number;
  /** The earlier incidents in words, without the verdict, for the approval request; absent when there are none. */
  seen?: string;
  /** One line for the evidence. */
  summary: string;
}

const day = (iso: string): string => iso.slice(0, 16).replace('T', ' ');

/** Earlier incidents, oldest first, against the limit (none configured: shown, never held). */
export function judgeRepeats(earlier: readonly EarlierIncident[], limit: RepeatLimit | undefined, windowMs: number): RepeatJudgement {
  const window = formatDuration(windowMs);
  const sorted = [...earlier].sort((a, b) => a.started.localeCompare(b.started));
  const unlocks = sorted.filter((e) => e.outcome !== undefined && UNLOCKED_OUTCOMES.includes(e.outcome)).length;
  if (sorted.length === 0) return { hold: false, unlocks: 0, summary: `no earlier incident of this release in ${window}` };
  const list = sorted.map((e) => `${day(e.started)} ${e.outcome ?? 'running'}`).join(', ');
  const seen = `unlocked ${unlocks} time${unlocks === 1 ? '' : 's'} in ${window} (${sorted.length} earlier incident${sorted.length === 1 ? '' : 's'}: ${list})`;
  if (!limit || unlocks < limit.unlocks) return { hold: false, unlocks, seen, summary: seen };
  return {
    hold: true,
    unlocks,
    seen,
    summary: `${seen}: the policy allows ${limit.unlocks} unlock${limit.unlocks === 1 ? '' : 's'} in ${window} (repeatLimit), so a human should look at why it keeps getting stuck before it is unlocked again`,
  };
}
