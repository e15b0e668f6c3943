// Runbook step 5, decided: does Helm show the release deployed again?
import type { ReleaseState } from './release-state';

export interface VerifyExpectation {
  /** The revision that must be the newest and deployed (the one under the removed lock). */
  deployedRevision?: number;
  /** A stuck first install was removed: the release must be gone. */
  absent?: boolean;
  /**
   * How the lock was removed. `mark-failed` keeps the pending revisions, now `failed`, on top of
   * the last deployed one: Helm's next upgrade starts from that deployed revision (or, after a
   * first install, from the failed one), so the release is not absent and its newest is not deployed.
   */
  strategy?: 'delete' | 'mark-failed';
  /** The pending revisions that were unlocked (mark-failed: each must now be failed). */
  unlocked?: number[];
}

export interface Verification {
  verified: boolean;
  summary: string;
  revision?: number;
  status?: string;
  chart?: string;
}

export function judgeVerification(state: ReleaseState, expect: VerifyExpectation): Verification {
  const id = `${state.namespace}/${state.release}`;
  const newest = state.newest;
  const found: { revision?: number; status?: string; chart?: string } = newest
    ? {
        revision: newest.revision,
        status: newest.status,
        ...(newest.chart ? { chart: `${newest.chart.name}-${newest.chart.version}` } : {}),
      }
    : {};
  if (expect.strategy === 'mark-failed') return judgeMarkedFailed(state, expect, id, found);
  if (expect.absent) {
    return state.kind === 'Absent'
      ? { verified: true, summary: `${id}: gone, as expected after removing a stuck first install; the next deploy installs afresh.` }
      : { verified: false, summary: `${id}: expected no release, but revision ${newest?.revision} is ${newest?.status}.`, ...found };
  }
  if (!newest) return { verified: false, summary: `${id}: Helm has no record of this release any more.` };
  if (newest.status !== 'deployed') {
    return { verified: false, summary: `${id}: newest revision ${newest.revision} is ${newest.status}, not deployed.`, ...found };
  }
  if (expect.deployedRevision !== undefined && newest.revision !== expect.deployedRevision) {
    return {
      verified: false,
      summary: `${id}: newest deployed revision is ${newest.revision}, expected ${expect.deployedRevision}.`,
      ...found,
    };
  }
  const chart = found.chart ? ` (${found.chart})` : '';
  return { verified: true, summary: `${id}: revision ${newest.revision}${chart} is deployed; Helm will accept the next upgrade.`, ...found };
}

/** After mark-failed: each unlocked revision is failed, the deployed one below is intact, nothing pending on top. */
function judgeMarkedFailed(state: ReleaseState, expect: VerifyExpectation, id: string, found: Partial<Verification>): Verification {
  const newest = state.newest;
  if (!newest) return { verified: false, summary: `${id}: Helm has no record of this release any more.` };
  if (state.kind === 'Locked') {
    return { verified: false, summary: `${id}: still locked: revision ${newest.revision} is ${newest.status}.`, ...found };
  }
  const unlocked = expect.unlocked ?? [];
  if (newest.status !== 'failed' || (unlocked.length > 0 && !unlocked.includes(newest.revision))) {
    return { verified: false, summary: `${id}: expected revision ${unlocked.join(', ')} marked failed on top, but the newest revision is ${newest.revision} (${newest.status}).`, ...found };
  }
  const failed = unlocked.length ? `revision${unlocked.length > 1 ? 's' : ''} ${unlocked.join(', ')} ${unlocked.length > 1 ? 'are' : 'is'} failed` : `revision ${newest.revision} is ${newest.status}`;
  if (expect.absent) {
    return { verified: true, summary: `${id}: ${failed} (it was a first install, nothing deployed underneath); Helm will accept the next upgrade, which starts from it.`, ...found };
  }
  if (expect.deployedRevision !== undefined && state.lastDeployed?.revision !== expect.deployedRevision) {
    return { verified: false, summary: `${id}: ${failed}, but revision ${expect.deployedRevision} is no longer the last deployed (${state.lastDeployed ? `${state.lastDeployed.revision} is` : 'none is'}).`, ...found };
  }
  const below = expect.deployedRevision ?? state.lastDeployed?.revision;
  return {
    verified: true,
    summary: `${id}: ${failed}${below !== undefined ? `, revision ${below} is still the last deployed` : ''}; Helm will accept the next upgrade.`,
    ...found,
  };
}
