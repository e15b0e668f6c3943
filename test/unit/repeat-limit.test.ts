// The repeat-offender judgement: one row per situation an approver meets.
import { judgeRepeats, type EarlierIncident } from '../../decisions/repeat-limit';
import { checkPolicy } from '../../decisions/schemas';

const WEEK = 7 * 86_400_000;
const LIMIT = { unlocks: 3, windowMs: WEEK };
const at = (day: number, outcome?: string): EarlierIncident => ({ started: `2026-12-0${day}T10:00:00.000Z`, ...(outcome ? { outcome } : {}) });

test.each<[string, EarlierIncident[], typeof LIMIT | undefined, boolean, number, RegExp]>([
  ['no earlier incident', [], LIMIT, false, 0, /^no earlier incident of this release in 7d0h$/],
  ['two unlocks, under the limit', [at(2, 'unstuck-and-verified'), at(1, 'unstuck-and-verified')], LIMIT, false, 2, /^unlocked 2 times in 7d0h \(2 earlier incidents: 2026-12-01 10:00 unstuck-and-verified, 2026-12-02 10:00 unstuck-and-verified\)$/],
  [
    'three unlocks, at the limit: held',
    [at(1, 'unstuck-and-verified'), at(3, 'needs-review'), at(5, 'unstuck-and-verified')],
    LIMIT,
    true,
    3,
    /^unlocked 3 times in 7d0h \(3 earlier incidents: .*\): the policy allows 3 unlocks in 7d0h \(repeatLimit\), so a human should look at why it keeps getting stuck before it is unlocked again$/,
  ],
  ['endings that unlocked nothing do not count', [at(1, 'nothing-to-do'), at(2, 'rejected'), at(3, 'failed'), at(4, 'aborted'), at(5, 'needs-investigation')], LIMIT, false, 0, /^unlocked 0 times in 7d0h \(5 earlier incidents/],
  ['one still running (no outcome) is listed, not counted', [at(1), at(2, 'unstuck-and-verified')], { unlocks: 1, windowMs: WEEK }, true, 1, /2026-12-01 10:00 running, 2026-12-02 10:00 unstuck-and-verified/],
  ['no limit (an older history): shown, never held', [at(1, 'unstuck-and-verified'), at(2, 'unstuck-and-verified'), at(3, 'unstuck-and-verified'), at(4, 'unstuck-and-verified')], undefined, false, 4, /^unlocked 4 times/],
])('%s', (_, earlier, limit, hold, unlocks, summary) => {
  const j = judgeRepeats(earlier, limit, WEEK);
  expect(j).toMatchObject({ hold, unlocks });
  // The approval request shows the earlier incidents without the verdict, and nothing when there are none.
  expect(j.seen).toBe(earlier.length === 0 ? undefined : j.summary.split(': the policy allows')[0]);
  expect(j.summary).toMatch(summary);
});

test('repeatLimit: 3 unlocks in 7 days by default; a cluster sets its own; a bad one is refused in words', () => {
  expect(checkPolicy({ approvers: ['alice'] })).toMatchObject({ data: { repeatLimit: { unlocks: 3, windowMs: WEEK } } });
  expect(checkPolicy({ approvers: ['alice'] }, { repeatLimit: { unlocks: 1, window: '1h' } })).toMatchObject({ data: { repeatLimit: { unlocks: 1, windowMs: 3_600_000 } } });
  expect(checkPolicy({ approvers: ['alice'], repeatLimit: { unlocks: 0, window: '7d' } })).toEqual({ problems: [expect.stringMatching(/^policy\.repeatLimit\.unlocks.*whole number >= 1/)] });
  expect(checkPolicy({ approvers: ['alice'], repeatLimit: { unlocks: 2, window: 'a week' } as never })).toEqual({ problems: [expect.stringMatching(/^policy\.repeatLimit\.window/)] });
});
