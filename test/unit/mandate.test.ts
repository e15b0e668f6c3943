// The act checks the approval (issue 20): judgeMandate as a table, one row per way an act was
// reached without a human's approval of exactly it, and the ways it may go ahead.
import { newSecretKey, publicKeyOf, signProof, type DecisionProof } from '../../decisions/decision-proof';
import { planDigest } from '../../decisions/approval';
import { judgeMandate, type MandateAsk } from '../../decisions/mandate';
import { workflowIdFor, type Decision } from '../../decisions/vocabulary';

const SERVE = newSecretKey();
const OTHER = newSecretKey();
const TARGET = { cluster: 'gprd', namespace: 'gitlab', release: 'gitlab' };
const ID = workflowIdFor(TARGET.cluster, TARGET.namespace, TARGET.release);
const RUN = 'run-1';
const APPROVED = [{ objectName: 'sh.helm.release.v1.gitlab.v7', revision: 7, status: 'pending-upgrade' as const, uid: 'u7', resourceVersion: '70' }];
const PLAN = planDigest(APPROVED, 'delete');
const POLICY = { approvers: ['alice', 'bob', 'group:sre'], approvals: 1, allowUnverifiedDecisions: false, decisionKeys: [publicKeyOf(SERVE)], strategy: 'delete' as const };

function approval(by: string, p: Partial<DecisionProof> = {}, d: Partial<Decision> = {}, key = SERVE, incident = ID): Decision {
  const bare = { action: 'approve' as const, by, reason: 'checked', plan: PLAN, ...d };
  const verifiedBy = p.verifiedBy ?? 'token';
  return { ...bare, proof: signProof(incident, bare, { run: RUN, hold: 'approval', seq: 3, verifiedBy, via: 'api', principal: `${verifiedBy}:${by}`, at: '2026-12-01T00:00:00Z', ...p }, key) };
}

const ask = (o: { decisions?: Decision[]; policy?: Partial<MandateAsk['policy']> | null; caller?: Partial<MandateAsk['caller']>; target?: Partial<typeof TARGET>; approved?: typeof APPROVED; strategy?: 'delete' | 'mark-failed' } = {}): MandateAsk => ({
  caller: { workflowType: 'remediateStuckRelease', workflowId: ID, runId: RUN, ...o.caller },
  target: { ...TARGET, ...o.target },
  mandate: { approved: o.approved ?? APPROVED, strategy: o.strategy ?? 'delete', decisions: o.decisions ?? [approval('alice')] },
  policy: o.policy === null ? undefined : { ...POLICY, ...o.policy },
});

describe('judgeMandate', () => {
  test.each<[string, MandateAsk, RegExp | { by: string }]>([
    ["the incident's own run, alice's signed approval of exactly this plan", ask(), { by: 'alice' }],
    ['approved at any approval hold of the run, however long ago', ask({ decisions: [approval('alice', { seq: 9, at: '2020-01-01T00:00:00Z' })] }), { by: 'alice' }],
    ["the operator's auto-approval, as configured now", ask({ decisions: [], policy: { autoApprove: { configuredBy: 'sre-lead', reason: 'staging' } } }), { by: "the operator's policy (auto-approve, configured by sre-lead)" }],
    ['two people for a two-person rule', ask({ decisions: [approval('alice'), approval('bob')], policy: { approvals: 2 } }), { by: 'alice and bob' }],
    ['an unverified name, where the operator allows it now', ask({ decisions: [{ action: 'approve', by: 'alice', reason: 'r', plan: PLAN }], policy: { allowUnverifiedDecisions: true } }), { by: 'alice' }],
    // Issue 20: a workflow of the attacker's own, on a task queue of its own, schedules the act.
    ['no approval at all', ask({ decisions: [] }), /needs 1 approval by distinct approvers configured now; it has no valid approval$/],
    ["an attacker's workflow type", ask({ caller: { workflowType: 'steal' } }), /^called by a steal workflow/],
    ["another workflow id (another release's, or a made-up one)", ask({ caller: { workflowId: 'helm-unstuck/gprd/gitlab/other' } }), /^called by workflow helm-unstuck\/gprd\/gitlab\/other, not by helm-unstuck\/gprd\/gitlab\/gitlab/],
    ['the act aimed at another release than its workflow', ask({ target: { release: 'registry' } }), /not by helm-unstuck\/gprd\/gitlab\/registry/],
    ["a real approval copied into another run (terminated, restarted under the same id)", ask({ caller: { runId: 'run-2' } }), /alice: the proof answers another run/],
    ['an approval copied from a ci-busy hold', ask({ decisions: [approval('alice', { hold: 'ci-busy' }, { action: 'continue' })] }), /alice: not an approval/],
    ['an approval proof relabelled as another hold', ask({ decisions: [approval('alice', { hold: 'unhealthy' })] }), /alice: the proof answers the unhealthy hold/],
    ['the approved plan, handed other records', ask({ approved: [{ ...APPROVED[0]!, uid: 'u8' }] }), /alice approved another plan/],
    ['the approved plan, handed another strategy', ask({ strategy: 'mark-failed' }), /the strategy mark-failed is not the configured delete/],
    ['no records at all', ask({ approved: [] }), /names no record/],
    ['signed by a key the operator no longer lists (rotated)', ask({ decisions: [approval('alice', {}, {}, OTHER)] }), /alice: the proof is not signed by a key the operator configured/],
    ['an approver the operator has since removed', ask({ policy: { approvers: ['bob'] } }), /alice is not an approver now/],
    ['a forged name under a real proof', ask({ decisions: [{ ...approval('alice'), by: 'bob' }] }), /bob: the proof is not signed/],
    ['unverified names, where the operator does not allow them', ask({ decisions: [{ action: 'approve', by: 'alice', reason: 'r', plan: PLAN }] }), /alice: no proof of identity/],
    ["a rogue worker's answer to loadPolicy (auto-approve) that the configuration does not say", ask({ decisions: [{ action: 'approve', by: 'policy (configured by mallory)', reason: 'r', plan: PLAN }] }), /no proof of identity/],
    ['one person under two names the operator joined', ask({ decisions: [approval('alice'), approval('asmith', { verifiedBy: 'sso', groups: ['sre'] })], policy: { approvals: 2, people: { alice: ['token:alice', 'sso:asmith'] } } }), /it has 1 \(alice\)/],
    ['one person under the same name twice, token and sso', ask({ decisions: [approval('alice'), approval('alice', { verifiedBy: 'sso' })], policy: { approvals: 2 } }), /it has 1 \(alice\)/],
    ['one SSO account under two names', ask({ decisions: [approval('asmith', { verifiedBy: 'sso', subject: 'idp#42', groups: ['sre'] }), approval('al', { verifiedBy: 'sso', subject: 'idp#42', groups: ['sre'] })], policy: { approvals: 2 } }), /it has 1 \(asmith\)/],
    ['a cluster the worker is not configured for', ask({ policy: null }), /^cluster "gprd" is not in this worker's configuration$/],
  ])('%s', (_, a, want) => {
    const j = judgeMandate(a);
    if (want instanceof RegExp) expect(j).toEqual({ ok: false, why: expect.stringMatching(want) });
    else expect(j).toEqual({ ok: true, ...want });
  });

  test('a mandate that is not one (hostile input) is refused, not thrown on', () => {
    for (const mandate of [undefined, { approved: 'x', strategy: 'delete', decisions: [] }, { approved: APPROVED, strategy: 'delete', decisions: [null, 7, 'x'] }]) {
      expect(judgeMandate({ ...ask(), mandate: mandate as never })).toMatchObject({ ok: false });
    }
  });
});
