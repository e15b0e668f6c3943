// Runbook step 5, decided for both strategies (is the release deployed again?): after a delete the release is one revision
// behind; after a mark-failed the pending revisions stay, failed, on top of the deployed one.
import type { RevisionRecord } from '../../decisions/helm';
import { determineReleaseState } from '../../decisions/release-state';
import { judgeVerification, type VerifyExpectation } from '../../decisions/verification';
import { NOW, rev } from './revisions';

const state = (...history: RevisionRecord[]) => determineReleaseState('gitlab', 'gitlab', history, NOW);

describe('judgeVerification', () => {
  test.each<{ name: string; history: RevisionRecord[]; expect: VerifyExpectation; verified: boolean; says: RegExp }>([
    { name: 'delete: the previous revision deployed on top', history: [rev(1, 'superseded'), rev(2, 'deployed')], expect: { deployedRevision: 2, strategy: 'delete', unlocked: [3] }, verified: true, says: /revision 2 is deployed; Helm will accept the next upgrade/ },
    { name: 'delete: a failed revision on top is not verified', history: [rev(2, 'deployed'), rev(3, 'failed')], expect: { deployedRevision: 2, strategy: 'delete', unlocked: [3] }, verified: false, says: /newest revision 3 is failed, not deployed/ },
    { name: 'delete, first install: gone', history: [], expect: { absent: true, strategy: 'delete', unlocked: [1] }, verified: true, says: /gone, as expected/ },
    { name: 'mark-failed: the pending revision failed, the deployed one below intact', history: [rev(1, 'superseded'), rev(2, 'deployed'), rev(3, 'failed')], expect: { deployedRevision: 2, strategy: 'mark-failed', unlocked: [3] }, verified: true, says: /revision 3 is failed, revision 2 is still the last deployed; Helm will accept the next upgrade/ },
    { name: 'mark-failed, stacked: both failed', history: [rev(2, 'deployed'), rev(3, 'failed'), rev(4, 'failed')], expect: { deployedRevision: 2, strategy: 'mark-failed', unlocked: [4, 3] }, verified: true, says: /revisions 4, 3 are failed, revision 2 is still the last deployed/ },
    { name: 'mark-failed, first install: the failed revision is what the next upgrade starts from', history: [rev(1, 'failed')], expect: { absent: true, strategy: 'mark-failed', unlocked: [1] }, verified: true, says: /revision 1 is failed \(it was a first install/ },
    { name: 'mark-failed, still pending: not verified', history: [rev(2, 'deployed'), rev(3, 'pending-upgrade')], expect: { deployedRevision: 2, strategy: 'mark-failed', unlocked: [3] }, verified: false, says: /still locked: revision 3 is pending-upgrade/ },
    { name: 'mark-failed, a newer revision on top: not verified', history: [rev(2, 'deployed'), rev(3, 'failed'), rev(4, 'deployed')], expect: { deployedRevision: 2, strategy: 'mark-failed', unlocked: [3] }, verified: false, says: /expected revision 3 marked failed on top, but the newest revision is 4 \(deployed\)/ },
    { name: 'mark-failed, the deployed revision gone: not verified', history: [rev(1, 'deployed'), rev(3, 'failed')], expect: { deployedRevision: 2, strategy: 'mark-failed', unlocked: [3] }, verified: false, says: /revision 2 is no longer the last deployed \(1 is\)/ },
  ])('$name', ({ history, expect: e, verified, says }) => {
    const v = judgeVerification(state(...history), e);
    expect(v.verified).toBe(verified);
    expect(v.summary).toMatch(says);
  });
});
