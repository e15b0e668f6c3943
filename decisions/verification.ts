// Runbook step 5, decided: does Helm show the release deployed again?
import type { ReleaseState } from './release-state';

export interface VerifyExpectation {
  /** The revision that must be the newest and deployed (the one under the removed lock). */
  deployedRevision?: number;
  /** A stuck first install was removed: the release must be gone. */
  absent?: boolean;
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
