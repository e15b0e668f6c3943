// Observe → decide: what state is a release in, judged from its history alone (no I/O).
// Helm takes its newest revision as the lock: if that one is pending, every install, upgrade and
// rollback fails with "another operation (install/upgrade/rollback) is in progress".
import { formatDuration } from './duration';
import { isPending, type PendingStatus, type RevisionRecord } from './helm';

export type ReleaseStateKind =
  /** Helm has no record of the release. */
  | 'Absent'
  /** The newest revision is not pending: Helm will accept the next operation. */
  | 'Unlocked'
  /** The newest revision is pending: Helm refuses every operation until it is resolved. */
  | 'Locked';

export interface ReleaseState {
  kind: ReleaseStateKind;
  release: string;
  namespace: string;
  /** One sentence, in the words an SRE would use in an incident channel. */
  reason: string;
  newest?: RevisionRecord;
  /** The run of pending revisions at the top of the history, newest first: what holds the lock. */
  pending: RevisionRecord[];
  pendingStatus?: PendingStatus;
  /** More than one pending revision holds the lock (e.g. a pending-rollback on a pending-upgrade). */
  stacked: boolean;
  /** The lock is a first install: nothing lies under it, so removing it removes the release. */
  firstInstall: boolean;
  /** The newest deployed revision, which Helm falls back to once the lock is gone. */
  lastDeployed?: RevisionRecord;
  /** When the newest pending revision was written, and how long ago that is. */
  pendingSince?: string;
  pendingForMs?: number;
  /** Pending revisions buried under a newer non-pending one: no lock, reported only. */
  buriedPending: number[];
}

/** When Helm last wrote this revision: its modifiedAt label, createdAt label, or payload time. */
export function writtenAt(r: RevisionRecord): string | undefined {
  return r.modifiedAt ?? r.createdAt ?? r.lastDeployed;
}

export function determineReleaseState(
  release: string,
  namespace: string,
  history: readonly RevisionRecord[],
  nowMs: number,
): ReleaseState {
  const newestFirst = [...history].sort((a, b) => b.revision - a.revision);
  const base = { release, namespace, pending: [], stacked: false, firstInstall: false, buriedPending: [] };
  const newest = newestFirst[0];
  if (!newest) return { ...base, kind: 'Absent', reason: `${namespace}/${release}: Helm has no record of this release.` };

  const firstSettled = newestFirst.findIndex((r) => !isPending(r.status));
  const pending = firstSettled === -1 ? newestFirst : newestFirst.slice(0, firstSettled);
  const below = firstSettled === -1 ? [] : newestFirst.slice(firstSettled);
  const lastDeployed = below.find((r) => r.status === 'deployed');
  const buried = below.filter((r) => isPending(r.status));
  const buriedPending = buried.map((r) => r.revision);
  const common = { ...base, newest, lastDeployed, buriedPending };

  if (pending.length === 0) {
    return {
      ...common,
      kind: 'Unlocked',
      reason: `${namespace}/${release}: not stuck; the newest revision ${newest.revision} is ${newest.status}.${describeBuried(buried)}`,
    };
  }

  const top = pending[0]!;
  const since = writtenAt(top);
  const pendingForMs = since === undefined ? undefined : Math.max(0, nowMs - Date.parse(since));
  const firstInstall = below.length === 0;
  const stacked = pending.length > 1;
  const age = pendingForMs === undefined ? 'for an unknown time' : `for ${formatDuration(pendingForMs)}`;
  const revs = pending.map((r) => `${r.revision} (${r.status})`).join(', ');
  const under = firstInstall
    ? 'it is a first install: removing it leaves no release, and the next deploy installs afresh'
    : lastDeployed
      ? `revision ${lastDeployed.revision} is the last deployed`
      : `no deployed revision lies underneath (newest settled: ${below[0]!.revision} ${below[0]!.status})`;
  const reason = stacked
    ? `${namespace}/${release} is stuck: ${pending.length} stacked pending revisions ${revs}, the newest pending ${age}; ${under}.`
    : `${namespace}/${release} is stuck: revision ${top.revision} has been ${top.status} ${age}; ${under}.`;
  const buriedToo = describeBuried(buried);
  return {
    ...common,
    kind: 'Locked',
    reason: `${reason}${buriedToo}`,
    pending,
    pendingStatus: top.status as PendingStatus,
    stacked,
    firstInstall,
    pendingSince: since,
    pendingForMs,
  };
}

/**
 * Pending revisions below a newer settled one (someone's `helm rollback` over a stuck upgrade
 * leaves it so): no lock, but an operation that never finished, so every ending names them.
 */
function describeBuried(buried: readonly RevisionRecord[]): string {
  if (buried.length === 0) return '';
  const revs = buried.map((r) => `${r.revision} (${r.status})`).join(', ');
  const one = buried.length === 1;
  return ` Revision${one ? '' : 's'} ${revs} ${one ? 'is' : 'are'} still pending below a newer revision: an operation that never finished, buried (by someone's rollback or deploy over the lock?); ${one ? 'it holds' : 'they hold'} no lock and ${one ? 'is' : 'are'} left as ${one ? 'it is' : 'they are'}.`;
}
