// Is the chart's admission policy in force on a cluster? RBAC lets helm-unstuck's identity write
// every Secret and ConfigMap in reach; only the ValidatingAdmissionPolicy narrows that to what an
// unlock and a restore write. Where it is missing (a remote cluster it was never installed in, a
// binding deleted), helm-unstuck holds far more than it needs, so it does not act there unless
// the operator said, for that cluster, that it need not be.
//
// The probe is a server-side dry run of a write the policy must refuse: a forged `deployed`
// release record. Admitted means no such policy is in force; refused by a
// ValidatingAdmissionPolicy means it is; anything else (RBAC, a namespace that does not exist)
// tells nothing about the policy.

/** Per cluster, from the operator's configuration (`clusters.<name>.admissionPolicy`). */
export const ADMISSION_REQUIREMENTS = ['required', 'not-required'] as const;
export type AdmissionRequirement = (typeof ADMISSION_REQUIREMENTS)[number];
export const DEFAULT_ADMISSION_REQUIREMENT: AdmissionRequirement = 'required';

/** What one dry-run probe got back from the API server (activities/kubernetes.ts sends it). */
export type AdmissionProbe =
  | { answer: 'admitted'; namespace: string }
  | { answer: 'refused-by-policy'; namespace: string; policy: string; message: string }
  | { answer: 'inconclusive'; namespace: string; why: string };

/** The states a cluster can be in, as /healthz and the metric report them. */
export type AdmissionState = 'enforced' | 'not-enforced' | 'unknown';

export function admissionState(p: AdmissionProbe | undefined): AdmissionState {
  if (!p || p.answer === 'inconclusive') return 'unknown';
  return p.answer === 'refused-by-policy' ? 'enforced' : 'not-enforced';
}

/** What unlockRelease knows when it starts: the cluster, what the operator requires, the probe just made. */
export interface AdmissionSeen {
  cluster: string;
  requirement: AdmissionRequirement;
  /** Absent when nothing was probed (the operator does not require the policy). */
  probe?: AdmissionProbe;
}

/** Acting on this cluster is refused: nothing was changed. Not worth retrying; a person must act. */
export class AdmissionPolicyMissingError extends Error {
  override name = 'AdmissionPolicyMissingError';
}

/** Why helm-unstuck must not write on this cluster, in one sentence; undefined when it may. */
export function admissionRefusal(s: AdmissionSeen): string | undefined {
  if (s.requirement === 'not-required') return undefined;
  const optOut = `the operator may opt out with clusters.${s.cluster}.admissionPolicy: not-required`;
  const p = s.probe;
  if (!p) return `cluster ${s.cluster}: the admission policy was not probed; refusing to act; nothing was changed`;
  switch (p.answer) {
    case 'refused-by-policy':
      return undefined;
    case 'admitted':
      return (
        `cluster ${s.cluster}: helm-unstuck's admission policy is not in force (a dry-run create of a forged deployed release record ` +
        `in namespace ${p.namespace} was admitted), so its identity could rewrite any Secret or ConfigMap there; refusing to act; ` +
        `nothing was changed. Install the chart's policy in that cluster, or ${optOut}`
      );
    case 'inconclusive':
      return `cluster ${s.cluster}: could not tell whether helm-unstuck's admission policy is in force (${p.why}); refusing to act; nothing was changed; ${optOut}`;
  }
}

/** unlockRelease's first line: throws AdmissionPolicyMissingError unless acting here is allowed. */
export function refuseUnlessAdmissionPolicyInForce(s: AdmissionSeen): void {
  const why = admissionRefusal(s);
  if (why) throw new AdmissionPolicyMissingError(why);
}
