// What a remediation needs, as one schema: the workflow checks its input with it, the client
// checks before starting anything, and the config loader composes its parts (a cluster's GitLab
// projects, the policy), so all three accept and refuse exactly the same things.
import { Duration, DurationMs } from './duration';
import { ClusterName, NamespaceName, ReleaseName } from './helm';
import type { Policy, RemediationInput, ResolvedPolicy } from './remediation';
import { check, quote, z } from './validation';

export const DEFAULT_POLICY: Omit<Policy, 'approvers'> = {
  escalateAfter: '15m',
  ciRecheckInterval: '1m',
  ciMaxChecks: 10,
  minPendingAge: '5m',
  hpaTolerance: 0.1,
  strategy: 'delete',
  ciJobTimeout: '30m',
  ciPollInterval: '10s',
};

/** A non-empty string of bounded length (names, reasons, environments). */
const text = (max = 256) => z.string().min(1).max(max);

function isRegExp(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

const ATLEAST_ONE_WATCH = 'must list at least one GitLab project and environment to watch (runbook step 1)';

/** One GitLab project on the ops instance whose jobs deploy to the cluster. */
export const CiWatchSchema = z.object({
  project: z
    .union([z.string(), z.number()], { error: 'must be a project path (group/name) or a numeric id' })
    .refine((p) => (typeof p === 'number' ? Number.isSafeInteger(p) && p > 0 : p.length > 0 && p.length <= 256), {
      error: 'must be a project path (group/name) or a numeric id',
    }),
  environment: text(),
  jobPattern: z
    .string()
    .max(1024)
    .refine(isRegExp, { error: (iss) => `${quote(iss.input)} is not a regular expression` })
    .optional(),
});

export const CiWatchesSchema = z
  .array(CiWatchSchema, { error: (iss) => (iss.input === undefined ? ATLEAST_ONE_WATCH : undefined) })
  .min(1, { error: ATLEAST_ONE_WATCH })
  .max(100);

const wholeAtLeastOne = { error: 'must be a whole number >= 1' };
const CiMaxChecks = z.number(wholeAtLeastOne).int(wholeAtLeastOne).min(1, wholeAtLeastOne);
const betweenZeroAndOne = { error: 'must be between 0 and 1' };
const HpaTolerance = z.number(betweenZeroAndOne).min(0, betweenZeroAndOne).max(1, betweenZeroAndOne);
const Strategy = z.enum(['delete', 'mark-failed']);

const ATLEAST_ONE_APPROVER = 'must list at least one approver';
const Approvers = z.array(text(), { error: (iss) => (iss.input === undefined ? ATLEAST_ONE_APPROVER : undefined) }).min(1, { error: ATLEAST_ONE_APPROVER });
const AutoApprove = z.object(
  { configuredBy: text(), reason: text(1024) },
  { error: 'must name who configured it (configuredBy) and why (reason)' },
);

/** The policy as written (durations as given): what the workflow input and the config carry. */
export const PolicySchema = z.object(
  {
    approvers: Approvers,
    autoApprove: AutoApprove.optional(),
    escalateAfter: Duration.optional(),
    ciRecheckInterval: Duration.optional(),
    ciMaxChecks: CiMaxChecks.optional(),
    minPendingAge: Duration.optional(),
    hpaTolerance: HpaTolerance.optional(),
    strategy: Strategy.optional(),
    ciJobTimeout: Duration.optional(),
    ciPollInterval: Duration.optional(),
  },
  { error: (iss) => (iss.input === undefined ? `is required (${ATLEAST_ONE_APPROVER})` : undefined) },
) satisfies z.ZodType<RemediationInput['policy']>;

/** The policy with defaults filled in and durations in milliseconds. */
const ResolvedPolicySchema = PolicySchema.extend({
  escalateAfter: DurationMs.prefault(DEFAULT_POLICY.escalateAfter),
  ciRecheckInterval: DurationMs.prefault(DEFAULT_POLICY.ciRecheckInterval),
  ciMaxChecks: CiMaxChecks.default(DEFAULT_POLICY.ciMaxChecks),
  minPendingAge: DurationMs.prefault(DEFAULT_POLICY.minPendingAge),
  hpaTolerance: HpaTolerance.default(DEFAULT_POLICY.hpaTolerance),
  strategy: Strategy.default(DEFAULT_POLICY.strategy),
  ciJobTimeout: DurationMs.prefault(DEFAULT_POLICY.ciJobTimeout),
  ciPollInterval: DurationMs.prefault(DEFAULT_POLICY.ciPollInterval),
}).transform(
  ({ escalateAfter, ciRecheckInterval, minPendingAge, ciJobTimeout, ciPollInterval, ...rest }): ResolvedPolicy => ({
    ...rest,
    escalateAfterMs: escalateAfter,
    ciRecheckIntervalMs: ciRecheckInterval,
    minPendingAgeMs: minPendingAge,
    ciJobTimeoutMs: ciJobTimeout,
    ciPollIntervalMs: ciPollInterval,
  }),
);

export const TriggerSchema = z.object({
  source: z.enum(['alertmanager', 'cli', 'api']),
  by: text(),
  fingerprint: z.string().max(256).optional(),
  summary: z.string().max(4096).optional(),
  startsAt: z.string().max(64).optional(),
});

export const RemediationInputSchema = z.object(
  {
    cluster: ClusterName,
    namespace: NamespaceName,
    release: ReleaseName,
    driver: z.enum(['secret', 'configmap']).optional(),
    gitlab: CiWatchesSchema,
    policy: PolicySchema,
    trigger: TriggerSchema,
  },
  { error: (iss) => (iss.code === 'invalid_type' ? 'must be an object' : undefined) },
) satisfies z.ZodType<RemediationInput>;

/** Every problem with the input, in words; empty when it is valid. */
export function validateRemediationInput(input: RemediationInput): string[] {
  const r = check(RemediationInputSchema, input, 'input');
  return 'problems' in r ? r.problems : [];
}

/** Every problem with the GitLab projects to watch; empty when they are valid. */
export function watchProblems(watches: RemediationInput['gitlab']): string[] {
  const r = check(z.object({ gitlab: CiWatchesSchema }), { gitlab: watches }, 'gitlab');
  return 'problems' in r ? r.problems : [];
}

/** The policy with its defaults, durations in milliseconds. Only for a policy already validated. */
export function resolvePolicy(p: RemediationInput['policy']): ResolvedPolicy {
  const r = check(ResolvedPolicySchema, p, 'policy');
  if ('problems' in r) throw new TypeError(`invalid policy: ${r.problems.join('; ')}`);
  return r.data;
}
