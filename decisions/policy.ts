// The operator's policy for one cluster as the workflow records it: its digest (the same
// configuration always gives the same digest, whatever the key order) and its words.
import { shortDigest } from './decision-proof';
import { formatDuration } from './duration';
import type { OperatorPolicy } from './vocabulary';
import type { CiWatch, ResolvedPolicy } from './schemas';

/** JSON with every object's keys sorted, so equal values give equal text. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => canonicalJson(x ?? null)).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The policy and projects, with the digest of exactly them. */
export function operatorPolicy(policy: ResolvedPolicy, gitlab: CiWatch[]): OperatorPolicy {
  return { policy, gitlab, digest: shortDigest(canonicalJson({ policy, gitlab })) };
}

/** One evidence line: what the operator's policy says, and its digest. */
export function describePolicy({ policy: p, gitlab, digest }: OperatorPolicy): string {
  const parts = [
    `approvers ${p.approvers.join(', ')}`,
    p.approvals === 1 ? 'one approval' : `${p.approvals} approvals by distinct people`,
    p.allowUnverifiedDecisions ? 'unverified decisions ALLOWED' : 'unverified decisions refused',
    `${p.decisionKeys.length} decision key${p.decisionKeys.length === 1 ? '' : 's'}`,
    p.autoApprove ? `AUTO-APPROVE configured by ${p.autoApprove.configuredBy} (${p.autoApprove.reason})` : 'no auto-approval',
    `strategy ${p.strategy}`,
    `minimum pending age ${formatDuration(p.minPendingAgeMs)}`,
    `escalate after ${formatDuration(p.escalateAfterMs)}`,
    `watching ${gitlab.map((g) => `${g.project} (${g.environment})`).join(', ')}`,
  ];
  return `the operator's policy (digest ${digest}): ${parts.join('; ')}`;
}
