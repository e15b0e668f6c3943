// The chaos matrix's fast subset (the whole matrix is `npm run chaos`, bench/chaos.ts): the worker
// SIGKILLed in the approval wait and right after the unlock and the CI retry are in history, on a
// stack of its own whose API server keeps an audit log. Actions are counted from that log and the
// fake GitLab, and the harness proves it counts a second DELETE by making one by hand. Then the
// API server frozen just after the unlock's backup, with its DELETE sent into the frozen server:
// still exactly one DELETE request.
import { deleteRecordByHand, runIncident, startChaosStack, type ChaosStack } from './chaos';
import { apiOutage, handDoubleDelete, workerKill, workerKillInWaits } from './chaos-matrix';

let stack: ChaosStack & { stop(): Promise<void> };
beforeAll(async () => {
  stack = await startChaosStack();
}, 180_000);
afterAll(async () => {
  await stack?.stop();
});

const summary = (r: Awaited<ReturnType<typeof runIncident>>) => ({
  run: `${r.scenario}: ${r.name}`,
  outcome: r.outcome,
  deletes: r.deletes,
  backups: r.backup_creates.filter((c) => c === 201).length,
  ci_retries: r.ci_retries,
  double_actions: r.double_actions,
  lost: r.lost,
  helm: r.helm_status,
  error: r.error,
});

test('a killed worker is replaced at three kill points: one backup, one DELETE, one CI retry each; a second DELETE by hand is counted', async () => {
  const runs = [workerKillInWaits()[0]!, workerKill('unlockRelease', 'completed'), workerKill('retryCiJob', 'completed')];
  const [selfCheck, ...rows] = await Promise.all([handDoubleDelete((s, ns, name) => deleteRecordByHand(s.cp, ns, name)), ...runs].map((spec) => runIncident(stack, spec)));
  for (const r of rows) {
    expect(summary(r)).toEqual({ ...summary(r), outcome: 'unstuck-and-verified', deletes: [200], backups: 1, ci_retries: 1, double_actions: 0, lost: false, helm: 'deployed 1', error: undefined });
    expect(r.correct).toBe(true);
  }
  // The harness's own check: the incident deleted once, the hand once more (refused: 404).
  expect(selfCheck!.outcome).toBe('unstuck-and-verified');
  expect(selfCheck!.deletes).toEqual([200, 404]);
  expect(selfCheck!.double_actions).toBe(1);
  expect(selfCheck!.correct).toBe(false);
}, 360_000);

// Issue 14's "a frozen API server at unlock leads to exactly one DELETE request". Attempt 1's
// DELETE goes into the stopped server and the attempt gives up on it after 15 s; the kernel keeps
// the bytes. 60 s is chosen so that a retry's read (attempts start at +16, +33, +52 s, each
// waiting 15 s) is in flight when the server resumes and runs that DELETE too: the two race. A
// retry that saw the record and then found its own backup used to DELETE again (404). Runs alone:
// it freezes this file's API server.
test('the API server frozen for 60 s just after the unlock wrote its backup: one backup, one DELETE, unstuck and verified', async () => {
  const r = await runIncident(stack, apiOutage('sigstop', 'unlock-after-backup', 60_000));
  expect(summary(r)).toEqual({ ...summary(r), outcome: 'unstuck-and-verified', deletes: [200], backups: 1, ci_retries: 1, double_actions: 0, lost: false, helm: 'deployed 1', error: undefined });
  expect(r.notes).toEqual(expect.arrayContaining([expect.stringMatching(/API server stopped/), expect.stringMatching(/API server back/)]));
  expect(r.correct).toBe(true);
}, 300_000);
