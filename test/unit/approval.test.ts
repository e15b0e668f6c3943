// The approval gate's judgements as tables: the plan digest, and whether a decision may be taken
// (who, verified how, on which plan, the two-person rule).
import { newSecretKey, publicKeyOf, signProof, type DecisionProof } from '../../decisions/decision-proof';
import { approvalAsk, approvalProgress, describeDecider, isApprover, judgeDecision, planDigest, type Asking, type DecisionPolicy } from '../../decisions/approval';
import type { Decision } from '../../decisions/vocabulary';

const INCIDENT = 'helm-unstuck/gprd/gitlab/gitlab';
const NOW = Date.parse('2026-11-26T00:30:00Z');
const SERVE = newSecretKey();
const OTHER = newSecretKey();
const REC = [{ uid: 'uid-1235', resourceVersion: '2235' }];
const PLAN = planDigest(REC, 'delete');

describe('planDigest', () => {
  test('is 12 hex digits, the same for the same plan', () => {
    expect(PLAN).toMatch(/^[0-9a-f]{12}$/);
    expect(planDigest([{ uid: 'uid-1235', resourceVersion: '2235' }], 'delete')).toBe(PLAN);
  });
  test.each([
    ['another resourceVersion (the record was written)', [{ uid: 'uid-1235', resourceVersion: '2236' }], 'delete'],
    ['another uid (a new record under the same name)', [{ uid: 'uid-other', resourceVersion: '2235' }], 'delete'],
    ['another strategy', REC, 'mark-failed'],
    ['one more record (stacked pending revisions)', [...REC, { uid: 'uid-1236', resourceVersion: '2236' }], 'delete'],
    ['no records', [], 'delete'],
    ['the fields run together differently', [{ uid: 'uid-123', resourceVersion: '52235' }], 'delete'],
  ] as const)('changes with %s', (_, records, strategy) => {
    expect(planDigest(records, strategy)).not.toBe(PLAN);
  });
});

const policy = (p: Partial<DecisionPolicy> = {}): DecisionPolicy => ({ approvers: ['alice', 'bob', 'group:sre'], allowUnverifiedDecisions: false, decisionKeys: [publicKeyOf(SERVE)], ...p });
const RUN = 'run-7';
type Given = string | { by: string; person?: string; subject?: string };
const atGate = (given: Given[] = []): Asking => ({
  run: RUN,
  hold: 'approval',
  seq: 2,
  plan: { digest: PLAN, words: 'back up and delete sh.helm.release.v1.gitlab.v1235' },
  given: given.map((g) => (typeof g === 'string' ? { by: g, person: g } : g)),
});
const onHold = (hold: Asking['hold'], seq = 1): Asking => ({ run: RUN, hold, seq, given: [] });
const approve = (by: string, more: Partial<Decision> = {}): Decision => ({ action: 'approve', by, reason: 'checked', plan: PLAN, ...more });
const signed = (d: Decision, p: Partial<DecisionProof> = {}, key = SERVE, incident = INCIDENT): Decision => {
  const { proof: _, ...bare } = d;
  const verifiedBy = p.verifiedBy ?? 'sso';
  const proof = { run: RUN, hold: 'approval' as const, seq: 2, verifiedBy, via: 'page' as const, principal: `${verifiedBy}:${d.by.toLowerCase()}`, at: new Date(NOW).toISOString(), ...p };
  return { ...bare, proof: signProof(incident, bare, proof, key) };
};

describe('judgeDecision', () => {
  test.each<{ name: string; d: unknown; asking?: Asking; p?: Partial<DecisionPolicy>; want: string | object }>([
    // Identity
    { name: 'signed by serve (sso): accepted, recorded as sso through the page', d: signed(approve('alice')), want: { verifiedBy: 'sso', via: 'page', groups: [], by: 'alice', plan: PLAN } },
    { name: 'signed by serve (token, api)', d: signed(approve('bob'), { verifiedBy: 'token', via: 'api' }), want: { verifiedBy: 'token', via: 'api' } },
    { name: 'unverified, refused by default', d: approve('alice'), want: "alice's identity not verified: the decision carries no proof of who made it, and the operator's policy accepts only decisions serve signed (allowUnverifiedDecisions is off)" },
    { name: 'unverified, allowed by the operator: recorded as such, via temporal', d: approve('alice'), p: { allowUnverifiedDecisions: true }, want: { verifiedBy: 'unverified-but-allowed', via: 'temporal', groups: [] } },
    { name: 'signed with a key nobody configured', d: signed(approve('alice'), {}, OTHER), want: "alice's identity not verified: the proof is not signed by a key the operator configured" },
    { name: 'a bad proof is refused even where unverified decisions are allowed', d: signed(approve('alice'), {}, OTHER), p: { allowUnverifiedDecisions: true }, want: /^alice's identity not verified: the proof is not signed/ },
    { name: 'a proof for another incident', d: signed(approve('alice'), {}, SERVE, 'helm-unstuck/gstg/gitlab/gitlab'), want: /^alice's identity not verified: the proof is not signed/ },
    { name: "a proof for alice, sent as bob's", d: { ...signed(approve('alice')), by: 'bob' }, want: /^bob's identity not verified/ },
    { name: 'a proof signed an hour ago', d: signed(approve('alice'), { at: new Date(NOW - 3_600_000).toISOString() }), want: /^alice's identity not verified: the proof was signed at .*, too far from now/ },
    // Who may decide
    { name: 'a verified stranger', d: signed(approve('mallory')), want: 'mallory is not an allowed approver' },
    { name: 'group:sre matches a verified member of sre', d: signed(approve('carol'), { groups: ['sre', 'dev'] }), want: { by: 'carol', groups: ['sre', 'dev'] } },
    { name: 'group:sre does not match another group', d: signed(approve('carol'), { groups: ['dev'] }), want: 'carol is not an allowed approver' },
    { name: 'an unverified decision never matches a group, even by that name', d: approve('group:sre'), p: { allowUnverifiedDecisions: true }, want: 'group:sre is not an allowed approver' },
    // The plan
    { name: 'no plan named at the gate', d: signed(approve('alice', { plan: undefined })), want: `a decision on the approval must name the plan it was made on (its digest); now ${PLAN}: back up and delete sh.helm.release.v1.gitlab.v1235` },
    { name: 'an older plan', d: signed(approve('alice', { plan: 'aaaaaaaaaaaa' })), want: `the plan changed since you looked: now ${PLAN}: back up and delete sh.helm.release.v1.gitlab.v1235` },
    { name: 'a rejection on an older plan too', d: signed(approve('alice', { action: 'reject', plan: 'aaaaaaaaaaaa' })), want: /^the plan changed since you looked/ },
    { name: 'on a busy-CI hold no plan is needed', d: signed({ action: 'continue', by: 'alice', reason: 'known job' }, { hold: 'ci-busy', seq: 1 }), asking: onHold('ci-busy'), want: { action: 'continue' } },
    // A proof answers one hold of one run (issue 20: alice's continue at ci-busy, copied from history, sent at the unhealthy hold)
    { name: "a continue signed for the ci-busy hold, sent at the unhealthy hold", d: signed({ action: 'continue', by: 'alice', reason: 'known job' }, { hold: 'ci-busy', seq: 1 }), asking: onHold('unhealthy', 2), want: /^alice's identity not verified: the proof answers the ci-busy hold \(number 1\), not the unhealthy hold \(number 2\)/ },
    { name: 'a proof for an earlier ci-busy hold, sent at a later one', d: signed({ action: 'continue', by: 'alice', reason: 'known job' }, { hold: 'ci-busy', seq: 1 }), asking: onHold('ci-busy', 3), want: /^alice's identity not verified: the proof answers the ci-busy hold \(number 1\)/ },
    { name: 'a proof from an earlier run of the same incident', d: signed(approve('alice'), { run: 'run-6' }), want: /^alice's identity not verified: the proof answers another run/ },
    { name: 'a proof already used once', d: signed(approve('bob')), asking: { ...atGate(), used: new Set([String(signed(approve('bob')).proof!.signature)]) }, want: /^bob's proof was already used once/ },
    // Two-person rule
    { name: 'the same person twice', d: signed(approve('alice')), asking: atGate(['alice']), want: 'alice has already approved this plan; another approver must give the next approval' },
    // One person, one approver (issue 20: token user alice and SSO user asmith, the same human)
    {
      name: 'one person under two names the operator joined: token alice, then sso asmith',
      d: signed(approve('asmith'), { groups: ['sre'] }),
      asking: atGate([{ by: 'alice', person: 'alice' }]),
      p: { people: { alice: ['token:alice', 'sso:asmith'] } },
      want: 'asmith has already approved this plan (as alice: one person, one approval); another approver must give the next approval',
    },
    { name: 'one SSO account under two names (the same subject)', d: signed(approve('asmith2'), { groups: ['sre'], subject: 'https://idp#42' }), asking: atGate([{ by: 'asmith', person: 'asmith', subject: 'https://idp#42' }]), want: /^asmith2 has already approved this plan \(as asmith/ },
    { name: 'names are case-folded: Alice after alice', d: signed(approve('Alice')), asking: atGate(['alice']), want: /^Alice has already approved this plan/ },
    { name: 'token alice and sso alice are one person unless the operator says otherwise', d: signed(approve('alice'), { verifiedBy: 'token', via: 'api' }), asking: atGate([{ by: 'alice', person: 'alice' }]), want: /^alice has already approved this plan/ },
    { name: 'a principal approver matches only that namespace', d: signed(approve('alice')), p: { approvers: ['token:alice'] }, want: 'alice is not an allowed approver' },
    { name: 'a person approver matches a mapped name', d: signed(approve('asmith')), p: { approvers: ['alice'], people: { alice: ['sso:asmith'] } }, want: { by: 'asmith', person: 'alice', principal: 'sso:asmith' } },
    // Sizes
    { name: 'a reason of 1,001 characters', d: signed(approve('alice', { reason: 'x'.repeat(1001) })), want: "a decision's reason is at most 1000 characters" },
    { name: 'a name of 257 characters', d: approve('a'.repeat(257)), want: "a decision's by is at most 256 characters" },
    { name: 'a second, distinct approver', d: signed(approve('bob')), asking: atGate(['alice']), want: { by: 'bob' } },
    { name: 'the first approver may still reject', d: signed(approve('alice', { action: 'reject' })), asking: atGate(['alice']), want: { action: 'reject' } },
    // Shape
    { name: 'no hold open', d: signed(approve('alice')), asking: onHold(undefined), want: 'the workflow is not waiting for a decision' },
    { name: 'continue at the gate', d: approve('alice', { action: 'continue' }), want: 'the workflow waits for approval: approve or reject, not continue' },
    { name: 'approve on busy CI', d: approve('alice'), asking: onHold('ci-busy'), want: 'the workflow waits for ci-busy: continue or abort, not approve' },
    { name: 'no reason', d: approve('alice', { reason: '  ' }), want: 'a decision must say why (reason)' },
    { name: 'nobody', d: approve(''), want: 'a decision must say who decides (by)' },
    { name: 'not an object', d: 'approve', want: 'a decision needs action, by and reason' },
    { name: 'a plan that is not text', d: approve('alice', { plan: 42 as never }), want: 'a decision names its plan by its digest (a string)' },
  ])('$name', ({ d, asking = atGate(), p, want }) => {
    const j = judgeDecision(INCIDENT, d, asking, policy(p), NOW);
    if (typeof want === 'string') expect(j).toEqual({ ok: false, why: want });
    else if (want instanceof RegExp) expect(j).toEqual({ ok: false, why: expect.stringMatching(want) });
    else expect(j).toEqual({ ok: true, recorded: expect.objectContaining(want) });
  });

  test("the update's handler (replayed, unlike its validator) takes the proof its validator checked as it is", () => {
    // Replay may run under another workflow id or with another clock: the accepted stays accepted.
    const d = signed(approve('carol'), { groups: ['sre'] }, SERVE, 'another-workflow-id');
    expect(judgeDecision(INCIDENT, d, atGate(), policy(), NOW)).toMatchObject({ ok: false });
    expect(judgeDecision(INCIDENT, d, atGate(), policy(), NOW, { proofChecked: true })).toEqual({ ok: true, recorded: expect.objectContaining({ by: 'carol', verifiedBy: 'sso', groups: ['sre'] }) });
  });

  test('the recorded decision keeps no signature', () => {
    const j = judgeDecision(INCIDENT, signed(approve('alice')), atGate(), policy(), NOW);
    expect(JSON.stringify(j)).not.toMatch(/signature/);
  });
});

describe('the words', () => {
  test.each([
    [['alice'], 1, 'approval by alice'],
    [['alice', 'bob'], 1, 'approval by alice or bob'],
    [['alice', 'bob', 'group:sre'], 2, '2 approvals by distinct people among alice, bob or group:sre'],
  ] as const)('approvalAsk %j × %i', (approvers, approvals, want) => {
    expect(approvalAsk({ approvers: [...approvers], approvals })).toBe(want);
  });
  test('progress and deciders', () => {
    expect(approvalProgress([], 2)).toBe('0 of 2 approvals');
    expect(approvalProgress([{ by: 'alice', verifiedBy: 'sso', groups: ['sre'] }], 2)).toBe('1 of 2 approvals: alice (sso)');
    expect(describeDecider({ by: 'you', verifiedBy: 'unverified-but-allowed', groups: [] })).toBe("you (unverified, allowed by the operator's policy)");
    expect(describeDecider({ by: 'carol', verifiedBy: 'sso', groups: ['sre'] })).toBe('carol (sso; groups sre)');
  });
  test('isApprover: names match names, groups match only stated groups', () => {
    expect(isApprover('token:alice', [], ['alice'])).toBe(true);
    expect(isApprover('sso:sre', [], ['group:sre'])).toBe(false);
    expect(isApprover('sso:carol', ['sre'], ['group:sre'])).toBe(true);
  });
});
