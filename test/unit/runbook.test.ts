// Each runbook step's decision as a table: one row per situation an operator meets.
import type { RevisionRecord } from '../../decisions/helm';
import { determineReleaseState } from '../../decisions/release-state';
import { isGoodOutcome, OUTCOMES, type Decision, type Hold, type Outcome } from '../../decisions/vocabulary';
import { approvedRecords, decideAnswer, decideCiQuiet, decideIdentify, decideLookAgain, decideRecheck, decideRerunWait, decideRollForward, decideUnlock, decideVerified, type Ending, type Recheck, type Rerun } from '../../decisions/runbook';
import { NOW, rev } from './revisions';

const state = (...history: RevisionRecord[]) => determineReleaseState('gitlab', 'gitlab', history, NOW);

const STUCK = state(rev(1233, 'superseded'), rev(1234, 'deployed'), rev(1235, 'pending-upgrade', 17));
const UNSTUCK = state(rev(1233, 'superseded'), rev(1234, 'deployed'));
const APPROVED = approvedRecords(STUCK);
// Someone's `helm rollback` to 1234 during the wait: a new deployed revision on top, the stuck one left below.
const ROLLED_BACK_OVER = state(rev(1233, 'superseded'), rev(1234, 'superseded'), rev(1235, 'pending-upgrade', 17), rev(1236, 'deployed', 1));
const BURIED = /Revision 1235 \(pending-upgrade\) is still pending below a newer revision: an operation that never finished, buried \(by someone's rollback or deploy over the lock\?\); it holds no lock and is left as it is\.$/;

describe('step 1: decideCiQuiet', () => {
  test.each([
    { name: 'quiet at the first look: go on', quiet: true, checks: 1, want: 'go-on' },
    { name: 'quiet at the last look: go on', quiet: true, checks: 10, want: 'go-on' },
    { name: 'busy, looks left: look again after a pause', quiet: false, checks: 1, want: 'look-again' },
    { name: 'busy at the second-to-last look: look again', quiet: false, checks: 9, want: 'look-again' },
    { name: 'busy at the last look: ask a human', quiet: false, checks: 10, want: 'ask-human' },
  ])('$name', ({ quiet, checks, want }) => {
    expect(decideCiQuiet(quiet, checks, { ciMaxChecks: 10 })).toBe(want);
  });
  test('ciMaxChecks 1: a single busy look asks a human at once', () => {
    expect(decideCiQuiet(false, 1, { ciMaxChecks: 1 })).toBe('ask-human');
  });
});

describe('steps 1 and 2, and the approval before step 4: decideAnswer', () => {
  const by = (action: Decision['action']): Decision => ({ action, by: 'alice', reason: 'looked at it' });
  test.each<{ name: string; hold: Hold; d: Decision; want: Ending | undefined }>([
    { name: 'busy CI, continue: go on', hold: 'ci-busy', d: by('continue'), want: undefined },
    { name: 'busy CI, abort: aborted', hold: 'ci-busy', d: by('abort'), want: { outcome: 'aborted', reason: 'alice aborted while CI was busy: looked at it' } },
    { name: 'unhealthy, override: go on', hold: 'unhealthy', d: by('continue'), want: undefined },
    {
      name: 'unhealthy, stop: needs-investigation, saying what was unhealthy',
      hold: 'unhealthy',
      d: by('abort'),
      want: { outcome: 'needs-investigation', reason: '1 of 1 Deployments NOT healthy: web; alice stopped: looked at it' },
    },
    { name: 'approval, approve: go on', hold: 'approval', d: by('approve'), want: undefined },
    { name: 'approval, reject: rejected', hold: 'approval', d: by('reject'), want: { outcome: 'rejected', reason: 'alice rejected: looked at it' } },
  ])('$name', ({ hold, d, want }) => {
    expect(decideAnswer(hold, d, '1 of 1 Deployments NOT healthy: web')).toEqual(want);
  });
});

describe('step 3: decideIdentify', () => {
  test.each([
    { name: 'not stuck: nothing to do', s: UNSTUCK, want: { action: 'nothing-to-do' } },
    { name: 'no release at all: nothing to do', s: state(), want: { action: 'nothing-to-do' } },
    { name: 'the runbook case: ask approval, expecting the last deployed on top', s: STUCK, want: { action: 'ask-approval', expect: { deployedRevision: 1234 } } },
    { name: 'a stuck first install: ask approval, expecting the release gone', s: state(rev(1, 'pending-install')), want: { action: 'ask-approval', expect: { absent: true } } },
    {
      name: 'pending only 2m, younger than 5m: wait the 3m left (may be a live upgrade)',
      s: state(rev(1, 'deployed'), rev(2, 'pending-upgrade', 2)),
      want: { action: 'wait-young', waitMs: 3 * 60_000, reason: 'revision 2 is only 2m old, younger than 5m: it may be a live upgrade, waiting' },
    },
    { name: 'nothing deployed under the lock: a human looks', s: state(rev(1, 'failed'), rev(2, 'pending-upgrade')), want: { action: 'investigate' } },
  ])('$name', ({ s, want }) => {
    expect(decideIdentify(s, { minPendingAgeMs: 5 * 60_000 })).toMatchObject(want);
  });
});

describe('the approval before step 4, the alert resolved while waiting: decideLookAgain', () => {
  test.each([
    { name: 'still the same lock: keep waiting', now: STUCK, want: { look: 'same' } },
    {
      name: 'someone fixed it meanwhile: nothing to do',
      now: UNSTUCK,
      want: { look: 'not-stuck', ending: { outcome: 'nothing-to-do', reason: expect.stringMatching(/^the alert resolved and the release is no longer stuck: .*not stuck/) } },
    },
    {
      name: "someone's rollback over the lock meanwhile: nothing to do, naming the pending revision left buried",
      now: ROLLED_BACK_OVER,
      want: { look: 'not-stuck', ending: { outcome: 'nothing-to-do', reason: expect.stringMatching(BURIED) } },
    },
    {
      name: 'the pending record was rewritten: ask again for the new one',
      now: state(rev(1233, 'superseded'), rev(1234, 'deployed'), { ...rev(1235, 'pending-upgrade'), resourceVersion: '9999' }),
      want: { look: 'changed', plan: { approved: [expect.objectContaining({ revision: 1235, resourceVersion: '9999' })], expect: { deployedRevision: 1234 } } },
    },
    {
      name: 'a pending-rollback stacked on top: ask again for both',
      now: state(rev(1234, 'deployed'), rev(1235, 'pending-upgrade'), rev(1236, 'pending-rollback')),
      want: { look: 'changed', plan: { approved: [expect.objectContaining({ revision: 1236 }), expect.objectContaining({ revision: 1235 })] } },
    },
    {
      name: 'the records were replaced by a young pending one (a live upgrade?): never put up for approval; ends, nothing done',
      now: state(rev(1234, 'deployed'), { ...rev(1235, 'pending-upgrade', 2), uid: 'uid-new' }),
      want: {
        look: 'not-stuck',
        ending: {
          outcome: 'nothing-to-do',
          reason: expect.stringMatching(/^the alert resolved and the records awaiting approval are gone; revision 1235 is pending but only 2m old, younger than 5m: it may be a live upgrade, so it is not put up for approval and nothing was done/),
        },
      },
    },
    {
      name: 'the same young record, with a minimum age of 1m: old enough, ask again for it',
      now: state(rev(1234, 'deployed'), { ...rev(1235, 'pending-upgrade', 2), uid: 'uid-new' }),
      minPendingAgeMs: 60_000,
      want: { look: 'changed', plan: { approved: [expect.objectContaining({ revision: 1235 })] } },
    },
    {
      name: 'locked with nothing deployed below: ends as not stuck (as before the refactor)',
      now: state(rev(1, 'failed'), rev(2, 'pending-upgrade')),
      want: { look: 'not-stuck', ending: { outcome: 'nothing-to-do' } },
    },
  ] as { name: string; now: ReturnType<typeof state>; minPendingAgeMs?: number; want: object }[])('$name', ({ now, minPendingAgeMs = 5 * 60_000, want }) => {
    expect(decideLookAgain(APPROVED, now, { minPendingAgeMs })).toMatchObject(want);
  });
});

describe('step 4, after approval: decideRecheck', () => {
  test.each<{ name: string; r: Recheck; want: Ending | undefined }>([
    { name: 'CI still quiet: go on', r: { check: 'ci', quiet: true, summary: 'CI quiet', overridden: false }, want: undefined },
    {
      name: 'CI became busy: a human looks',
      r: { check: 'ci', quiet: false, summary: 'CI busy: job 7', overridden: false },
      want: { outcome: 'needs-investigation', reason: 'CI became busy after approval: CI busy: job 7' },
    },
    { name: 'CI busy, but a human already chose to continue despite it: go on', r: { check: 'ci', quiet: false, summary: 'CI busy', overridden: true }, want: undefined },
    { name: 'Deployments still healthy: go on', r: { check: 'health', healthy: true, summary: 'all healthy', overridden: false }, want: undefined },
    {
      name: 'a Deployment became unhealthy: a human looks',
      r: { check: 'health', healthy: false, summary: '1 of 2 NOT healthy', overridden: false },
      want: { outcome: 'needs-investigation', reason: 'Deployments became unhealthy after approval: 1 of 2 NOT healthy' },
    },
    { name: 'unhealthy, but a human already overrode it: go on', r: { check: 'health', healthy: false, summary: 'x', overridden: true }, want: undefined },
  ])('$name', ({ r, want }) => {
    expect(decideRecheck(r)).toEqual(want);
  });
});

describe('step 4, the lock read again: decideUnlock', () => {
  test.each([
    { name: 'exactly what was approved: unlock', now: STUCK, driver: 'secret' as const, want: { action: 'unlock', driver: 'secret', seen: expect.stringMatching(/^still exactly what was approved/) } },
    {
      name: 'the pending record changed: nothing deleted, a human looks',
      now: state(rev(1234, 'deployed'), { ...rev(1235, 'pending-upgrade'), resourceVersion: '2000' }),
      driver: 'secret' as const,
      want: { action: 'stop', ending: { outcome: 'needs-investigation', reason: expect.stringMatching(/^the release changed after approval; nothing was deleted: the pending records changed since approval: approved \[1235\/pending-upgrade\/uid-1235\/2235\], now \[1235\/pending-upgrade\/uid-1235\/2000\]/) } },
    },
    {
      name: 'no longer stuck: nothing deleted, nothing to do',
      now: UNSTUCK,
      driver: 'secret' as const,
      want: { action: 'stop', ending: { outcome: 'nothing-to-do', reason: expect.stringMatching(/^the release is no longer stuck; nothing was deleted: /) } },
    },
    {
      name: "someone's rollback over the lock after approval: nothing deleted, naming the pending revision left buried",
      now: ROLLED_BACK_OVER,
      driver: 'secret' as const,
      want: { action: 'stop', ending: { outcome: 'nothing-to-do', reason: expect.stringMatching(BURIED) } },
    },
    { name: 'records without a storage driver: nothing deleted, a human looks', now: STUCK, driver: undefined, want: { action: 'stop', ending: { outcome: 'needs-investigation' } } },
  ])('$name', ({ now, driver, want }) => {
    expect(decideUnlock(APPROVED, now, driver)).toMatchObject(want);
  });
});

describe('step 5: decideVerified', () => {
  test.each([
    { name: 'deployed again: go on', v: { verified: true, summary: 'revision 1234 is deployed' }, want: undefined },
    { name: 'not deployed: a human looks', v: { verified: false, summary: 'newest revision 1235 is failed' }, want: { outcome: 'needs-investigation', reason: 'unlocked, but newest revision 1235 is failed' } },
  ])('$name', ({ v, want }) => {
    expect(decideVerified(v)).toEqual(want);
  });
});

describe('step 6, the re-run job: decideRerunWait', () => {
  const deadline = NOW + 60_000;
  test.each([
    { name: 'running, time left: poll', status: 'running', now: NOW, want: 'poll' },
    { name: 'pending, time left: poll', status: 'pending', now: NOW, want: 'poll' },
    { name: 'running at the deadline: give up', status: 'running', now: deadline, want: 'give-up' },
    { name: 'succeeded: read its dry run', status: 'success', now: NOW, want: 'read-diff' },
    { name: 'failed (helm diff exits non-zero on changes): read its dry run', status: 'failed', now: NOW, want: 'read-diff' },
    { name: 'canceled, even past the deadline: read what it printed', status: 'canceled', now: deadline + 1, want: 'read-diff' },
    { name: 'skipped: read its dry run', status: 'skipped', now: NOW, want: 'read-diff' },
  ])('$name', ({ status, now, want }) => {
    expect(decideRerunWait(status, now, deadline)).toBe(want);
  });
});

describe('step 6: decideRollForward', () => {
  const V = 'gitlab/gitlab: revision 1234 is deployed.';
  test.each<{ name: string; rerun: Rerun; want: Ending }>([
    { name: 'no failed deploy job to re-run: unstuck', rerun: { job: 'none' }, want: { outcome: 'unstuck-and-verified', reason: `${V} No failed deploy job to re-run.` } },
    { name: 'the re-run did not finish in time: a human looks', rerun: { job: 'timed-out', id: 42, timeoutMs: 30 * 60_000 }, want: { outcome: 'needs-investigation', reason: 'the re-run job 42 did not finish within 30m' } },
    {
      name: 'succeeded, dry run changes nothing: unstuck',
      rerun: { job: 'finished', status: 'success', verdict: 'no-op', reason: 'no changes' },
      want: { outcome: 'unstuck-and-verified', reason: `${V} the re-run job's dry run changes nothing: no changes` },
    },
    {
      name: 'the dry run would change things: review (whatever the job status)',
      rerun: { job: 'finished', status: 'failed', verdict: 'changes', reason: '2 objects' },
      want: { outcome: 'needs-review', reason: `${V} the dry run would change things: 2 objects` },
    },
    {
      name: 'failed without a diff: a human looks',
      rerun: { job: 'finished', status: 'failed', verdict: 'unknown', reason: 'cluster unreachable' },
      want: { outcome: 'needs-investigation', reason: `${V} the re-run job ended failed: cluster unreachable` },
    },
    {
      name: 'canceled though its output says no-op: a human looks',
      rerun: { job: 'finished', status: 'canceled', verdict: 'no-op', reason: 'no changes' },
      want: { outcome: 'needs-investigation', reason: `${V} the re-run job ended canceled: no changes` },
    },
    {
      name: 'succeeded, output unreadable: review',
      rerun: { job: 'finished', status: 'success', verdict: 'unknown', reason: 'no diff section' },
      want: { outcome: 'needs-review', reason: `${V} could not tell whether the dry run changes anything: no diff section` },
    },
    {
      name: 'no cluster evidence, a two-way diff says no change: after an unlock that is no proof, review',
      rerun: { job: 'finished', status: 'success', verdict: 'no-op', reason: 'ran and printed no changes', mode: 'two-way' },
      want: { outcome: 'needs-review', reason: `${V} the re-run job's two-way dry run shows no change, but after an unlock that is no proof of no change: ran and printed no changes` },
    },
  ])('$name', ({ rerun, want }) => {
    expect(decideRollForward(V, rerun)).toEqual(want);
  });

  // The cluster decides; the log is quoted, and a disagreement is said.
  const nothing = { change: 'nothing' as const, summary: 'the deploy changed no object of the release (2 compared)' };
  const completed = { change: 'completed' as const, objects: [], summary: 'the deploy completed the interrupted upgrade: it changed exactly Deployment app/web, as the pending revision intended' };
  const unexpected = { change: 'unexpected' as const, objects: [], summary: "the deploy changed 1 object(s) beyond the interrupted upgrade's intent: Deployment app/web (now as neither revision wants it)" };
  const overwrote = { change: 'overwrote' as const, objects: [], summary: 'the re-run overwrote changes made outside both revisions: Deployment app/web (as neither revision wanted it before the re-run, changed after approval was asked, when it was applied; now applied)' };
  const unknown = { change: 'unknown' as const, summary: 'the cluster could not tell what the deploy changed: could not read Deployment app/web before or after the deploy' };
  test.each<{ name: string; rerun: Rerun; outcome: string; says: RegExp }>([
    { name: 'log lists changes, cluster changed nothing (two-way after a delete): verified, saying both', rerun: { job: 'finished', status: 'success', verdict: 'changes', mode: 'two-way', reason: 'Deployment app/web changed', cluster: nothing }, outcome: 'unstuck-and-verified', says: /changed no object of the release \(2 compared\)\. The log lists changes but the cluster shows none: the cluster decides .*\(the job's log: changes: Deployment app\/web changed\)$/ },
    { name: 'log silent, cluster completed the upgrade (two-way after a mark-failed): verified, saying both', rerun: { job: 'finished', status: 'success', verdict: 'no-op', mode: 'two-way', reason: 'ran and printed no changes', cluster: completed }, outcome: 'unstuck-and-verified', says: /completed the interrupted upgrade.*The log shows no change but the cluster changed: the cluster decides \(a two-way diff after an unlock is no proof of no change\)/ },
    { name: 'log and cluster agree on completing: verified', rerun: { job: 'finished', status: 'success', verdict: 'changes', reason: 'Deployment app/web changed', cluster: completed }, outcome: 'unstuck-and-verified', says: /completed the interrupted upgrade: it changed exactly Deployment app\/web.*\(the job's log: changes/ },
    { name: 'deployed beyond the pending revision: review, listing objects', rerun: { job: 'finished', status: 'success', verdict: 'changes', reason: 'x', cluster: unexpected }, outcome: 'needs-review', says: /beyond the interrupted upgrade's intent: Deployment app\/web/ },
    { name: 'unexpected changes even from a failed job: review', rerun: { job: 'finished', status: 'failed', verdict: 'unknown', reason: 'x', cluster: unexpected }, outcome: 'needs-review', says: /beyond the interrupted upgrade's intent/ },
    { name: 'a failed job whose diff listed changes: review', rerun: { job: 'finished', status: 'failed', verdict: 'changes', reason: '2 objects', cluster: nothing }, outcome: 'needs-review', says: /ended failed after its dry run listed changes: 2 objects; the cluster: the deploy changed no object/ },
    { name: 'a failed job without a diff: a human looks', rerun: { job: 'finished', status: 'failed', verdict: 'unknown', reason: 'cluster unreachable', cluster: nothing }, outcome: 'needs-investigation', says: /the re-run job ended failed: cluster unreachable; the cluster:/ },
    { name: "someone's change undone by the re-run, though the log and job say all is well: review, naming it", rerun: { job: 'finished', status: 'success', verdict: 'no-op', reason: 'no changes', cluster: overwrote }, outcome: 'needs-review', says: /the re-run overwrote changes made outside both revisions: Deployment app\/web \(.*changed after approval was asked.*\)\. \(the job's log: no-op: no changes\)$/ },
    { name: 'an overwrite by a failed job: still review, naming it', rerun: { job: 'finished', status: 'failed', verdict: 'unknown', reason: 'x', cluster: overwrote }, outcome: 'needs-review', says: /^gitlab\/gitlab: revision 1234 is deployed\. the re-run overwrote changes/ },
    { name: 'the cluster cannot tell: review', rerun: { job: 'finished', status: 'success', verdict: 'no-op', reason: 'x', cluster: unknown }, outcome: 'needs-review', says: /could not tell what the deploy changed/ },
  ])('$name', ({ rerun, outcome, says }) => {
    const end = decideRollForward(V, rerun);
    expect(end.outcome).toBe(outcome);
    expect(end.reason).toMatch(says);
  });
});

describe('isGoodOutcome: nobody needs to act', () => {
  const good: Record<Outcome, boolean> = {
    'unstuck-and-verified': true,
    'nothing-to-do': true,
    rejected: false,
    aborted: false,
    'needs-investigation': false,
    'needs-review': false,
    failed: false,
  };
  test.each(OUTCOMES.map((o) => [o, good[o]] as const))('%s: %s', (o, want) => {
    expect(isGoodOutcome(o)).toBe(want);
  });
  test('a running incident has no outcome yet: not good', () => {
    expect(isGoodOutcome(undefined)).toBe(false);
  });
});
