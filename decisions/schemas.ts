// What a remediation needs, as schemas, and its types derived from them (one declaration each):
// the workflow checks its input with one, the client checks before starting anything, and the
// config loader composes the others (a cluster's GitLab projects, the operator's policy), so all
// of them accept and refuse exactly the same things.
import { RE2JS } from 're2js';
import { decodeKey } from './base64url';
import { peopleProblems } from './principal';
import { Duration, DurationMs, parseDuration } from './duration';
import { ClusterName, NamespaceName, ReleaseName } from './helm';
import { check, ownRecordOf, quote, z } from './validation';

/** The policy's defaults: every key but approvers (someone must name them) and autoApprove (off). */
export const DEFAULT_POLICY: Required<Omit<PolicyConfig, 'approvers' | 'autoApprove'>> = {
  approvals: 1,
  allowUnverifiedDecisions: false,
  escalateAfter: '15m',
  ciRecheckInterval: '1m',
  ciMaxChecks: 10,
  minPendingAge: '5m',
  hpaTolerance: 0.1,
  strategy: 'delete',
  ciJobTimeout: '30m',
  ciPollInterval: '10s',
  repeatLimit: { unlocks: 3, window: '7d' },
};

/** A non-empty string of bounded length (names, reasons, environments). */
const text = (max = 256) => z.string().min(1).max(max);

/**
 * A jobPattern runs on job names anyone who can push a branch chooses, so it is compiled with
 * RE2 (re2js: linear time, no backtracking). A pattern RE2 refuses (a backreference, a
 * lookaround) is a configuration error, said with RE2's reason.
 */
export function jobPatternProblem(pattern: string): string | undefined {
  try {
    RE2JS.compile(pattern);
    return undefined;
  } catch (err) {
    return `${quote(pattern)} is not an RE2 regular expression (${(err as Error).message.replace(/^error parsing regexp: /, '')})`;
  }
}

/** A validated jobPattern, compiled; `test` finds it anywhere in the name, as RegExp#test does. */
export const compileJobPattern = (pattern: string): { test(name: string): boolean } => RE2JS.compile(pattern);

const ATLEAST_ONE_WATCH = 'must list at least one GitLab project and environment to watch (runbook step 1)';

/** One GitLab project on the ops instance whose jobs deploy to the cluster. */
export const CiWatchSchema = z.object({
  /** A project path (group/name) or a numeric id. */
  project: z
    .union([z.string(), z.number()], { error: 'must be a project path (group/name) or a numeric id' })
    .refine((p) => (typeof p === 'number' ? Number.isSafeInteger(p) && p > 0 : p.length > 0 && p.length <= 256), {
      error: 'must be a project path (group/name) or a numeric id',
    }),
  /** The GitLab environment the deploy jobs target (e.g. gprd-us-east1-b). */
  environment: text(),
  /** Which running/pending jobs count (regex on "<stage>:<name>"); unset: all of them. */
  jobPattern: z
    .string()
    .max(1024)
    .check((ctx) => {
      const problem = jobPatternProblem(ctx.value);
      if (problem) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
    })
    .optional(),
});
export type CiWatch = z.output<typeof CiWatchSchema>;

export const CiWatchesSchema = z
  .array(CiWatchSchema, { error: (iss) => (iss.input === undefined ? ATLEAST_ONE_WATCH : undefined) })
  .min(1, { error: ATLEAST_ONE_WATCH })
  .max(100);

const wholeAtLeastOne = { error: 'must be a whole number >= 1' };
const CiMaxChecks = z.number(wholeAtLeastOne).int(wholeAtLeastOne).min(1, wholeAtLeastOne);
const betweenZeroAndOne = { error: 'must be between 0 and 1' };
const HpaTolerance = z.number(betweenZeroAndOne).min(0, betweenZeroAndOne).max(1, betweenZeroAndOne);
const Strategy = z.enum(['delete', 'mark-failed']);
export type UnlockStrategy = z.output<typeof Strategy>;

const ATLEAST_ONE_APPROVER = 'must list at least one approver';
const Approvers = z.array(text(), { error: (iss) => (iss.input === undefined ? ATLEAST_ONE_APPROVER : undefined) }).min(1, { error: ATLEAST_ONE_APPROVER }).max(256);
const AutoApprove = z.strictObject(
  { configuredBy: text(), reason: text(1024) },
  { error: (iss) => (iss.code === 'unrecognized_keys' ? undefined : 'must name who configured it (configuredBy) and why (reason)') },
);
const oneToFive = { error: 'must be a whole number from 1 to 5' };
const RepeatLimitSchema = z.strictObject(
  { unlocks: CiMaxChecks, window: Duration },
  { error: (iss) => (iss.code === 'unrecognized_keys' ? undefined : 'must give unlocks (a whole number >= 1) and window (a duration, e.g. 7d)') },
);
const Approvals = z.number(oneToFive).int(oneToFive).min(1, oneToFive).max(5, oneToFive);

/**
 * The operator's policy as written (durations as given), every key optional: the defaults
 * (`policy`) and each cluster's overrides (`clusters.<name>.policy`) in the configuration.
 */
export const PolicySchema = z.strictObject(
  {
    /**
     * Who may approve or reject: user names (`alice`) or groups (`group:sre`). A group matches only
     * the groups of a decision whose identity serve verified (a signed proof).
     */
    approvers: Approvers.optional(),
    /** How many distinct approvers must approve the same plan (2: the two-person rule). */
    approvals: Approvals.optional(),
    /** Accept decisions nobody verified (a raw Temporal update with a free-text `by`). Off by default. */
    allowUnverifiedDecisions: z.boolean().optional(),
    /**
     * Approve without a human. Off unless an operator configures it explicitly, naming themself
     * and why; the approval is then recorded as the policy's, never as a person's.
     */
    autoApprove: AutoApprove.optional(),
    /** Escalate when a human decision has been awaited this long, and again each time after. */
    escalateAfter: Duration.optional(),
    /** While CI is busy: look again this often, this many times, then ask a human. */
    ciRecheckInterval: Duration.optional(),
    ciMaxChecks: CiMaxChecks.optional(),
    /** A pending revision younger than this may be a live upgrade: wait until it is this old. */
    minPendingAge: Duration.optional(),
    /** Allowed updated/available gap under an HPA, as a fraction of spec.replicas. */
    hpaTolerance: HpaTolerance.optional(),
    strategy: Strategy.optional(),
    /** Roll forward: how long to wait for the re-run job, and how often to look. */
    ciJobTimeout: Duration.optional(),
    ciPollInterval: Duration.optional(),
    repeatLimit: RepeatLimitSchema.optional(),
  },
  { error: (iss) => (iss.code === 'invalid_type' ? 'must be a mapping of policy settings' : undefined) },
);
/** The policy as written in the configuration: any key may be left to its default. */
export type PolicyConfig = z.input<typeof PolicySchema>;

/** A base64url Ed25519 public key (32 bytes): one key serve signs decisions with. */
export const DecisionKey = z.string().refine((k) => decodeKey(k)?.length === 32, {
  error: (iss) => `${quote(iss.input)} is not a base64url Ed25519 public key (32 bytes)`,
});
export const DecisionKeys = z.array(DecisionKey).max(16);

/** The operator's people: a person's name → the principals that are theirs (decisions/principal.ts). */
export const PeopleSchema = ownRecordOf(z.string().min(1).max(256), z.array(z.string().min(1).max(600)).min(1).max(64)).check((ctx) => {
  for (const { person, problem } of peopleProblems(ctx.value)) ctx.issues.push({ code: 'custom', path: [person], message: problem, input: ctx.value });
});

/**
 * The policy with defaults filled in, durations in milliseconds, the keys serve signs decisions
 * with (base64url Ed25519 public keys) and the operator's map of people to their principals.
 */
const ResolvedPolicySchema = PolicySchema.extend({
  approvers: Approvers,
  approvals: Approvals.default(DEFAULT_POLICY.approvals),
  allowUnverifiedDecisions: z.boolean().default(DEFAULT_POLICY.allowUnverifiedDecisions),
  decisionKeys: DecisionKeys.default([]),
  people: PeopleSchema.optional(),
  escalateAfter: DurationMs.prefault(DEFAULT_POLICY.escalateAfter),
  ciRecheckInterval: DurationMs.prefault(DEFAULT_POLICY.ciRecheckInterval),
  ciMaxChecks: CiMaxChecks.default(DEFAULT_POLICY.ciMaxChecks),
  minPendingAge: DurationMs.prefault(DEFAULT_POLICY.minPendingAge),
  hpaTolerance: HpaTolerance.default(DEFAULT_POLICY.hpaTolerance),
  strategy: Strategy.default(DEFAULT_POLICY.strategy),
  ciJobTimeout: DurationMs.prefault(DEFAULT_POLICY.ciJobTimeout),
  ciPollInterval: DurationMs.prefault(DEFAULT_POLICY.ciPollInterval),
  repeatLimit: RepeatLimitSchema.prefault(DEFAULT_POLICY.repeatLimit),
})
  .check((ctx) => {
    // One Temporal user could type two names: a two-person rule needs verified people.
    if (ctx.value.approvals > 1 && ctx.value.allowUnverifiedDecisions) {
      ctx.issues.push({ code: 'custom', path: ['allowUnverifiedDecisions'], message: `cannot be on with approvals ${ctx.value.approvals}: unverified names are not people`, input: true });
    }
  })
  .transform(
  ({ escalateAfter, ciRecheckInterval, minPendingAge, ciJobTimeout, ciPollInterval, repeatLimit, ...rest }) => ({
    ...rest,
    repeatLimit: { unlocks: repeatLimit.unlocks, windowMs: parseDuration(repeatLimit.window)! },
    escalateAfterMs: escalateAfter,
    ciRecheckIntervalMs: ciRecheckInterval,
    minPendingAgeMs: minPendingAge,
    ciJobTimeoutMs: ciJobTimeout,
    ciPollIntervalMs: ciPollInterval,
  }),
);
/** The policy as the workflow uses it (ResolvedPolicySchema's output). */
export type ResolvedPolicy = z.output<typeof ResolvedPolicySchema>;

export const TriggerSchema = z.object({
  source: z.enum(['alertmanager', 'cli', 'api']),
  /** Who or what started it (a user, or the alert's fingerprint). */
  by: text(),
  fingerprint: z.string().max(256).optional(),
  summary: z.string().max(4096).optional(),
  startsAt: z.string().max(64).optional(),
});
export type Trigger = z.output<typeof TriggerSchema>;

/**
 * The incident, and only the incident. Other keys are dropped, not refused: an older client's
 * `policy`, `gitlab` or `autoApprove` is ignored (the workflow says so in its evidence), because
 * the policy is the operator's.
 */
export const RemediationInputSchema = z.object(
  {
    cluster: ClusterName,
    namespace: NamespaceName,
    release: ReleaseName,
    /** The revision the alert named, when it named one. */
    revision: z.number().int().min(1).max(1_000_000_000).optional(),
    driver: z.enum(['secret', 'configmap']).optional(),
    trigger: TriggerSchema,
  },
  { error: (iss) => (iss.code === 'invalid_type' ? 'must be an object' : undefined) },
);
/**
 * What an incident is about, and nothing else: the policy and the GitLab projects to watch are the
 * operator's (the worker's configuration, read by the loadPolicy activity), never the starter's.
 */
export type RemediationInput = z.output<typeof RemediationInputSchema>;

/** Keys an input may carry from before the policy became the operator's; ignored. */
export const IGNORED_INPUT_KEYS = ['policy', 'gitlab', 'autoApprove'] as const;

/** The input, checked, with only the keys it may have; or every problem in words. */
export function parseRemediationInput(input: unknown): { data: RemediationInput } | { problems: string[] } {
  return check(RemediationInputSchema, input, 'input');
}

/** Every problem with the input, in words; empty when it is valid. */
export function validateRemediationInput(input: RemediationInput): string[] {
  const r = parseRemediationInput(input);
  return 'problems' in r ? r.problems : [];
}

/** Every problem with the GitLab projects to watch; empty when they are valid. */
export function watchProblems(watches: unknown): string[] {
  const r = check(z.object({ gitlab: CiWatchesSchema }), { gitlab: watches }, 'gitlab');
  return 'problems' in r ? r.problems : [];
}

/**
 * One cluster's policy: the defaults, with the cluster's overrides key by key, with defaults
 * filled in and durations in milliseconds; or every problem (no approvers, say) in words.
 */
export function checkPolicy(
  defaults: PolicyConfig,
  override: PolicyConfig = {},
  decisionKeys: readonly string[] = [],
  people?: Readonly<Record<string, readonly string[]>>,
): { data: ResolvedPolicy } | { problems: string[] } {
  const merged = {
    ...defaults,
    ...Object.fromEntries(Object.entries(override).filter(([, v]) => v !== undefined)),
    decisionKeys: [...decisionKeys],
    ...(people && Object.keys(people).length > 0 ? { people: Object.fromEntries(Object.entries(people).map(([k, v]) => [k, [...v]])) } : {}),
  };
  const r = check(ResolvedPolicySchema, merged, 'policy');
  return 'problems' in r ? { problems: r.problems.map((p) => (p.startsWith('policy ') ? p : `policy.${p}`)) } : r;
}

/** As checkPolicy, for a policy already validated (the configuration loader did). */
export function resolvePolicy(defaults: PolicyConfig, override?: PolicyConfig, decisionKeys?: readonly string[], people?: Readonly<Record<string, readonly string[]>>): ResolvedPolicy {
  const r = checkPolicy(defaults, override, decisionKeys, people);
  if ('problems' in r) throw new TypeError(`invalid policy: ${r.problems.join('; ')}`);
  return r.data;
}
