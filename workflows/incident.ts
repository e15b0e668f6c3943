// One incident's state, in one object, and what every runbook step does with it: enter a step,
// note evidence, wait for a human on a hold, finish. The steps themselves are in remediate.ts.
import { ActivityFailure, ApplicationFailure, condition, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ReleaseRef } from '../activities/release';
import { formatDuration } from '../decisions/duration';
import { describeGaveUp } from '../decisions/outage';
import {
  checkDecision,
  resolvePolicy,
  validateRemediationInput,
  type Decision,
  type Hold,
  type RemediationInput,
  type ResolvedPolicy,
  type Step,
} from '../decisions/remediation';
import type { Ending } from '../decisions/runbook';
import { alertSignal, decideSignal, decideUpdate, statusQuery, type EvidenceEntry, type RemediationResult, type RemediationStatus } from './definitions';

// Reads and actions alike retry through an outage of the API server or GitLab of at least 10
// minutes (the actions are idempotent and find their own earlier work): every 30 s at most, for
// 15 minutes in all. Each attempt heartbeats every 2 s, so a lost worker is noticed in 10 s, and
// ends its own requests (15-20 s each) before its start-to-close timeout (activities/attempt.ts),
// so an attempt never overlaps its retry. Past the budget the incident ends saying what was done.
export const RETRY_BUDGET = '15 minutes';
const resilient = {
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '10 seconds',
  scheduleToCloseTimeout: RETRY_BUDGET,
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
} as const;
export const reads = proxyActivities<Activities>(resilient);
export const actions = proxyActivities<Activities>(resilient);

/** Everything the workflow knows about its incident. The handlers write only `inbox`. */
export interface Incident {
  readonly id: string;
  readonly input: RemediationInput;
  readonly policy: ResolvedPolicy;
  readonly ref: ReleaseRef;
  /** What the status query answers: the step, the evidence, what a human deciding needs to see. */
  readonly status: RemediationStatus;
  /** What the handlers received and the steps have not taken yet. */
  readonly inbox: { decision?: Decision; alertResolved: boolean };
  /** Holds a human chose to go on past; the re-check after approval honours them. */
  readonly overrides: { ci?: Decision; health?: Decision };
  /** How long each step took (human waits included), for the step-duration metric. */
  readonly clock: { stepSeconds: Partial<Record<Step, number>>; stepStart: number };
}

/** How the incident ends, with what was done on the way when there is something to show. */
export interface End extends Ending {
  done?: Pick<RemediationResult, 'unlock' | 'verification' | 'rerun'>;
}

export const isEnd = <T extends object>(x: End | T): x is End => 'outcome' in x;

/** Check the input, set up the state and the handlers. Bad input fails the workflow at once. */
export function begin(input: RemediationInput): Incident {
  const id = workflowInfo().workflowId;
  const problems = validateRemediationInput(input);
  if (problems.length > 0) {
    throw ApplicationFailure.nonRetryable(`invalid remediation input: ${problems.join('; ')}`, 'InvalidInput');
  }
  const { cluster, namespace, release } = input;
  const s: Incident = {
    id,
    input,
    policy: resolvePolicy(input.policy),
    ref: { cluster, namespace, release, ...(input.driver ? { driver: input.driver } : {}) },
    status: { incident: id, step: 'ci-quiet', evidence: [], escalations: 0, view: {} },
    inbox: { alertResolved: false },
    overrides: {},
    clock: { stepSeconds: {}, stepStart: Date.now() },
  };
  const t = input.trigger;
  note(s, 'check', `started by ${t.source} (${t.by})${t.summary ? `: ${t.summary}` : ''}`);
  listen(s);
  return s;
}

function listen(s: Incident): void {
  setHandler(statusQuery, () => s.status);
  setHandler(
    decideUpdate,
    (d) => {
      take(s, d);
      return { accepted: true as const, step: s.status.step };
    },
    {
      validator: (d) => {
        const why = checkDecision(d, s.status.hold, s.policy.approvers);
        if (why) throw new Error(why);
      },
    },
  );
  setHandler(decideSignal, (d) => {
    const why = checkDecision(d, s.status.hold, s.policy.approvers);
    if (why) note(s, 'signal', `ignored a decision from ${String(d?.by)}: ${why}`, false);
    else take(s, d);
  });
  setHandler(alertSignal, (a) => {
    note(s, 'signal', `alert ${a.fingerprint} ${a.status}${a.endsAt && a.status === 'resolved' ? ` (ended ${a.endsAt})` : ''}`);
    if (a.status === 'resolved') s.inbox.alertResolved = true;
  });
}

function take(s: Incident, d: Decision): void {
  s.inbox.decision = d;
  note(s, 'decision', `${d.by}: ${d.action}, because ${d.reason}`);
}

export function enter(s: Incident, step: Step): void {
  const now = Date.now();
  s.clock.stepSeconds[s.status.step] = (s.clock.stepSeconds[s.status.step] ?? 0) + (now - s.clock.stepStart) / 1000;
  s.clock.stepStart = now;
  s.status.step = step;
}

export function note(s: Incident, kind: EvidenceEntry['kind'], summary: string, ok?: boolean): void {
  s.status.evidence.push({ at: new Date().toISOString(), step: s.status.step, kind, summary, ...(ok === undefined ? {} : { ok }) });
}

/** An open hold: what a human is asked, and since when (for the escalations). */
export interface Waiting {
  waitingFor: string;
  since: number;
}

export function openHold(s: Incident, hold: Hold, waitingFor: string): Waiting {
  s.status.hold = hold;
  s.status.waitingFor = waitingFor;
  s.inbox.decision = undefined;
  const w = { waitingFor, since: Date.now() };
  note(s, 'wait', `waiting for ${waitingFor}`);
  return w;
}

export function closeHold(s: Incident): void {
  s.status.hold = undefined;
  s.status.waitingFor = undefined;
}

/**
 * Wait on an open hold for a human's decision, or for the alert to resolve. Escalates every
 * escalateAfter and keeps waiting: nobody is approved by default.
 */
export async function nextOnHold(s: Incident, w: Waiting): Promise<Decision | 'alert-resolved'> {
  for (;;) {
    const woke = await condition(() => s.inbox.decision !== undefined || s.inbox.alertResolved, s.policy.escalateAfterMs);
    if (s.inbox.decision) return s.inbox.decision;
    if (s.inbox.alertResolved) {
      s.inbox.alertResolved = false;
      return 'alert-resolved';
    }
    if (!woke) await escalate(s, w);
  }
}

async function escalate(s: Incident, w: Waiting): Promise<void> {
  const count = ++s.status.escalations;
  const waited = Date.now() - w.since;
  note(s, 'escalation', `escalation ${count}: still waiting for ${w.waitingFor} after ${formatDuration(waited)}`);
  await reads.notifyEscalation({ incident: s.id, waitingFor: w.waitingFor, waitedMs: waited, count, summary: w.waitingFor });
}

/** A human continues past the hold or stops there. A resolved alert changes nothing on it. */
export async function askHuman(s: Incident, hold: Hold, waitingFor: string): Promise<Decision> {
  const w = openHold(s, hold, waitingFor);
  try {
    for (;;) {
      const next = await nextOnHold(s, w);
      if (next !== 'alert-resolved') return next;
    }
  } finally {
    closeHold(s);
  }
}

/**
 * Why the incident ends when an activity failed for good (past the retry budget, or refused):
 * what happened, what was and was not done, and how to resume.
 */
export function gaveUp(s: Incident, err: ActivityFailure): string {
  const acted = (step: Step) => s.status.evidence.some((e) => e.kind === 'action' && e.step === step);
  return describeGaveUp({
    step: s.status.step,
    activityType: err.activityType,
    cause: err.cause instanceof Error ? err.cause.message : err.message,
    outOfBudget: err.retryState === 'TIMEOUT',
    budget: RETRY_BUDGET,
    unlocked: acted('unlock'),
    ciRetried: acted('roll-forward'),
  });
}

export async function finish(s: Incident, end: End): Promise<RemediationResult> {
  const { outcome, reason } = end;
  enter(s, 'done');
  s.status.outcome = outcome;
  s.status.reason = reason;
  note(s, 'decision', `${outcome}: ${reason}`);
  await reads.reportOutcome({ incident: s.id, outcome, reason, stepSeconds: s.clock.stepSeconds });
  const { cluster, namespace, release } = s.input;
  return {
    incident: s.id,
    outcome,
    reason,
    cluster,
    namespace,
    release,
    ...(s.status.approval ? { approval: s.status.approval } : {}),
    ...end.done,
    escalations: s.status.escalations,
    evidence: s.status.evidence,
  };
}
