import { describeGaveUp, describeRetries, type GaveUp, type PendingActivity } from '../../decisions/outage';

const NOW = Date.parse('2026-11-26T00:00:00Z');

// What Temporal says of the pending activities → what `status` and the approval page say.
const retries: { name: string; pending: PendingActivity[]; says: RegExp | undefined }[] = [
  { name: 'nothing pending', pending: [], says: undefined },
  { name: 'a first attempt running: not an outage (yet)', pending: [{ activityType: 'unlockRelease', attempt: 1, state: 'started' }], says: undefined },
  {
    name: 'the API server: four attempts failed, the fifth in 30 s',
    pending: [{ activityType: 'unlockRelease', attempt: 4, state: 'scheduled', lastFailure: 'read Secret x: no answer within 15 s', nextAttemptAt: NOW + 30_000 }],
    says: /^waiting for the API server: 4 attempts, next in 30 s \(unlockRelease; last: read Secret x: no answer within 15 s\)$/,
  },
  {
    name: 'GitLab: one attempt failed, the second under way',
    pending: [{ activityType: 'retryCiJob', attempt: 2, state: 'started', lastFailure: 'GitLab answered 503' }],
    says: /^waiting for GitLab: 1 attempt, attempt 2 under way \(retryCiJob; last: GitLab answered 503\)$/,
  },
  { name: 'a first attempt that failed, retry time unknown', pending: [{ activityType: 'verifyRelease', attempt: 1, state: 'scheduled', lastFailure: 'HTTP 503' }], says: /^waiting for the API server: 1 attempt, next soon/ },
  { name: 'next attempt already due: never a negative wait', pending: [{ activityType: 'getCiJob', attempt: 3, state: 'scheduled', nextAttemptAt: NOW - 2000 }], says: /GitLab: 3 attempts, next in 0 s/ },
  { name: 'an activity of no known system', pending: [{ activityType: 'notifyEscalation', attempt: 2, state: 'scheduled' }], says: /^waiting for activity notifyEscalation: 2 attempts/ },
];

test.each(retries)('status: $name', ({ pending, says }) => {
  const r = describeRetries(pending, NOW);
  if (says === undefined) expect(r).toBeUndefined();
  else expect(r).toMatch(says);
});

const base: GaveUp = { step: 'unlock', activityType: 'unlockRelease', cause: 'no answer within 15 s', outOfBudget: true, budget: '15 minutes', unlocked: false, ciRetried: false };

// An activity failed for good → the incident's reason: what happened, what was done, how to resume.
const gaveUp: { name: string; g: Partial<GaveUp>; says: RegExp[] }[] = [
  {
    name: 'the API server out past the budget during the unlock',
    g: {},
    says: [/^the API server did not answer within the retry budget \(15 minutes\) during unlock \(unlockRelease: no answer within 15 s\)/, /Done: nothing\./, /the unlock may not have finished \(a backup is always written before the delete/, /To resume: re-start the incident .* reads the release again/],
  },
  { name: 'out during the re-check, before anything was done', g: { activityType: 'readReleaseHistory' }, says: [/Not done: nothing was deleted/, /re-start the incident/] },
  {
    name: 'the API server out during verify, after the unlock',
    g: { step: 'verify', activityType: 'verifyRelease', unlocked: true },
    says: [/Done: the approved records were backed up and removed\./, /Helm was not yet seen to show the release deployed; the CI job was not re-run/, /re-start the incident .*nothing-to-do.*re-run the deploy job by hand/],
  },
  { name: 'GitLab out while following the re-run job', g: { step: 'roll-forward', activityType: 'getCiJob', unlocked: true, ciRetried: true }, says: [/^GitLab did not answer/, /Done: .*removed; the CI job was retried\. Not done: the re-run job.s dry run was not judged\./] },
  { name: 'refused, not out of budget: said as a failure', g: { step: 'ci-quiet', activityType: 'checkCiQuiet', outOfBudget: false, cause: 'GitLab answered 404' }, says: [/^ci-quiet: checkCiQuiet failed: GitLab answered 404\./] },
];

test.each(gaveUp)('gave up: $name', ({ g, says }) => {
  const r = describeGaveUp({ ...base, ...g });
  for (const s of says) expect(r).toMatch(s);
});
