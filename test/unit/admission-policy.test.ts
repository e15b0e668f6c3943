import { admissionRefusal, AdmissionPolicyMissingError, refuseUnlessAdmissionPolicyInForce, type AdmissionSeen } from '../../decisions/admission-policy';

const enforced = { answer: 'refused-by-policy', namespace: 'gitlab', policy: 'ops-helm-unstuck', message: 'denied' } as const;
const admitted = { answer: 'admitted', namespace: 'gitlab' } as const;
const rbac = { answer: 'inconclusive', namespace: 'gitlab', why: 'the probe itself was refused in namespace gitlab, not by an admission policy' } as const;

// May helm-unstuck act on this cluster, as far as the admission policy goes? One row per situation an operator meets.
const table: { name: string; seen: Omit<AdmissionSeen, 'cluster'>; refused: RegExp | undefined }[] = [
  { name: 'required, and the policy refused the forged write: act', seen: { requirement: 'required', probe: enforced }, refused: undefined },
  {
    name: 'required, and the forged write was admitted (policy forgotten on a remote cluster): refuse, say how to fix or opt out',
    seen: { requirement: 'required', probe: admitted },
    refused: /^cluster gprd: helm-unstuck's admission policy is not in force \(a dry-run create of a forged deployed release record in namespace gitlab was admitted\).*refusing to act; nothing was changed\. Install the chart's policy in that cluster, or the operator may opt out with clusters\.gprd\.admissionPolicy: not-required$/,
  },
  { name: 'required, and the probe could not tell (RBAC refused it): refuse, with why', seen: { requirement: 'required', probe: rbac }, refused: /could not tell whether .* \(the probe itself was refused in namespace gitlab, not by an admission policy\); refusing to act; nothing was changed; the operator may opt out/ },
  { name: 'required, and nothing was probed: refuse', seen: { requirement: 'required' }, refused: /was not probed; refusing to act; nothing was changed/ },
  { name: 'not required (the operator opted out), policy missing: act', seen: { requirement: 'not-required', probe: admitted }, refused: undefined },
  { name: 'not required, not probed: act', seen: { requirement: 'not-required' }, refused: undefined },
  { name: 'not required, policy in force: act', seen: { requirement: 'not-required', probe: enforced }, refused: undefined },
];

test.each(table)('$name', ({ seen, refused }) => {
  const s = { cluster: 'gprd', ...seen };
  const why = admissionRefusal(s);
  if (refused === undefined) {
    expect(why).toBeUndefined();
    expect(() => refuseUnlessAdmissionPolicyInForce(s)).not.toThrow();
  } else {
    expect(why).toMatch(refused);
    expect(() => refuseUnlessAdmissionPolicyInForce(s)).toThrow(AdmissionPolicyMissingError);
    expect(() => refuseUnlessAdmissionPolicyInForce(s)).toThrow(why!);
  }
});
