// One incident's state, in one object, and what every runbook step does with it: enter a step,
// note evidence, wait for a human on a hold, finish. The steps themselves are in remediate.ts.
import { ActivityFailure, ApplicationFailure, CancellationScope, condition, patched, proxyActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ReleaseRef } from '../activities/release';
import { decisionRequired, describePost, needsAttention, NEEDS_HUMAN, resolved, severityAfter, type RequestAlert, type Where } from '../decisions/alert-requests';
import { approvalAsk, approvalProgress, describeDecider, judgeDecision, type Asking, type Judged } from '../decisions/approval';
import { formatDuration } from '../decisions/duration';
import { FAILURE_TYPES } from '../decisions/failure-types';
import { describeGaveUp } from '../decisions/outage';
import { describePolicy } from '../decisions/policy';
import { workflowIdFor, type Decision, type Hold, type RecordedDecision, type Step } from '../decisions/vocabulary';
import { parseRemediationInput, type CiWatch, type RemediationInput, type ResolvedPolicy } from '../decisions/schemas';
import { IGNORED_INPUT_KEYS } from '../decisions/schemas';
import { recoveryTimes, type RecoveryClock } from '../decisions/recovery-times';
import type { Ending } from '../decisions/runbook';
import { alertSignal, decideSignal, decideUpdate, statusQuery, type EvidenceEntry, type RemediationResult, type RemediationStatus } from './definitions';
import { indexOutcome, indexStep, indexWaiting, startIndexing, type Indexed } from './search-attributes';

// Every activity but the Alertmanager requests, reads and acts alike, goes through `retried`: it
// retries through an outage of the API server or GitLab of at least 10 minutes (the acts are
// idempotent and find their own earlier work): every 30 s at most, for
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
export const retried = proxyActivities<Activities>(resilient);
const RETRY_BUDGET_MS = 15 * 60_000;
// Posting a request to Alertmanager: one attempt per activity, retried by the workflow (deliver),
// so the evidence can say at once that a request is not getting through, and the incident goes on.
const triedOnce = proxyActivities<Activities>({ startToCloseTimeout: '30 seconds', heartbeatTimeout: '10 seconds', retry: { maximumAttempts: 1 } });

/** The patch under which an incident posts its requests as alerts (issue 22). */
const REQUESTS_AS_ALERTS = 'requests-as-alerts';

/**
 * Who is told, through Alertmanager: whether this incident posts (unset once the worker says it
 * has nowhere to post), its posts in order (a resolve never overtakes the raise it resolves), and
 * the request firing now.
 */
export interface Telling {
  on: boolean;
  queue: Promise<void>;
  raised?: RequestAlert;
  /** Since when posts have been failing: one retry budget for an outage, not one per post. */
  failingSince?: number;
}

/** An incident before its policy is known: enough to answer status and to finish. */
export interface Opened extends Indexed {
  readonly id: string;
  /** What the incident is about; nothing else from the input is kept. */
  readonly input: RemediationInput;
  /** What the status query answers: the step, the evidence, what a human deciding needs to see. */
  readonly status: RemediationStatus;
  /**
   * How long each step took (human waits included), for the step-duration metric; when the
   * incident started, was verified, and how long each hold waited for its answer (recovery times).
   */
  readonly clock: { stepSeconds: Partial<Record<Step, number>>; stepStart: number } & RecoveryClock;
  readonly telling: Telling;
}

/** Everything the workflow knows about its incident. The handlers write only `inbox` (and the approvals). */
export interface Incident extends Opened {
  /** The operator's policy for this cluster (loadPolicy, recorded in history). */
  readonly policy: ResolvedPolicy;
  /** The GitLab projects whose deploy jobs target this cluster, from the same configuration. */
  readonly gitlab: CiWatch[];
  readonly ref: ReleaseRef;
  /** The plan asked for at the approval gate: what a decision there must name. */
  plan?: { digest: string; words: string };
  /** The release's earlier incidents, in words, shown with the approval request (none: unset). */
  repeats?: string;
  /** What the handlers received and the steps have not taken yet. */
  readonly inbox: { decision?: RecordedDecision; alertResolved: boolean };
  /**
   * The approvals accepted, as sent (with serve's proofs): the acts check them again themselves.
   * `used`: the signatures taken, each proof answers once.
   */
  readonly accepted: { approvals: Decision[]; used: Set<string> };
  /** Holds a human chose to go on past; the re-check after approval honours them. */
  readonly overrides: { ci?: Decision; health?: Decision };
}

/** How the incident ends, with what was done on the way when there is something to show. */
export interface End extends Ending {
  done?: Pick<RemediationResult, 'unlock' | 'verification' | 'rerun'>;
}

export const isEnd = <T extends object>(x: End | T): x is End => 'outcome' in x;

/**
 * Check the input and answer status from now on. Bad input fails the workflow at once; keys that
 * are not about the incident (an older client's policy) are dropped, saying so.
 */
export function open(input: RemediationInput): Opened {
  const { workflowId: id, runId } = workflowInfo();
  const parsed = parseRemediationInput(input);
  if ('problems' in parsed) {
    throw ApplicationFailure.nonRetryable(`invalid remediation input: ${parsed.problems.join('; ')}`, FAILURE_TYPES.InvalidInput);
  }
  // One workflow per release, under the release's own id: an id squatted for another release
  // would ask approval under one name and act on another. (Incidents started before this check
  // replay without it; the acts check the id again themselves.)
  const { cluster, namespace, release } = parsed.data;
  if (patched('workflow-id-is-the-release') && id !== workflowIdFor(cluster, namespace, release)) {
    throw ApplicationFailure.nonRetryable(`workflow id ${id} is not ${workflowIdFor(cluster, namespace, release)}, the id of the release the input names`, FAILURE_TYPES.InvalidInput);
  }
  const s: Opened = {
    id,
    input: parsed.data,
    status: { incident: id, run: runId, step: 'ci-quiet', evidence: [], escalations: 0, approvals: [], view: {} },
    clock: { stepSeconds: {}, stepStart: Date.now(), startedAt: Date.now(), decisionWaits: [] },
    // On once the cluster's policy is known (begin): an incident about a cluster nobody configured tells nobody.
    telling: { on: false, queue: Promise.resolve() },
    indexed: false,
  };
  startIndexing(s, parsed.data, s.status.step);
  setHandler(statusQuery, () => s.status);
  const t = parsed.data.trigger;
  note(s, 'check', `started by ${t.source} (${t.by})${t.summary ? `: ${t.summary}` : ''}`);
  const ignored = IGNORED_INPUT_KEYS.filter((k) => Object.hasOwn(input, k));
  if (ignored.length > 0) note(s, 'check', `the input's ${ignored.join(' and ')} ${ignored.length > 1 ? 'were' : 'was'} ignored; policy is the operator's`, false);
  return s;
}

/**
 * The operator's policy for this cluster, from the worker's configuration (an activity, so it is
 * in history), then the decision handlers. A cluster the operator did not configure ends here.
 */
export async function begin(o: Opened): Promise<Incident | End> {
  let loaded;
  try {
    loaded = await retried.loadPolicy({ cluster: o.input.cluster, namespace: o.input.namespace });
  } catch (err) {
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === FAILURE_TYPES.InvalidInput) {
      note(o, 'error', err.cause.message, false);
      return { outcome: 'failed', reason: `${err.cause.message}; nothing was done` };
    }
    throw err;
  }
  note(o, 'check', describePolicy(loaded), true);
  const { cluster, namespace, release, driver } = o.input;
  const s: Incident = Object.assign(o, {
    policy: loaded.policy,
    gitlab: loaded.gitlab,
    ref: { cluster, namespace, release, ...(driver ? { driver } : {}) },
    inbox: { alertResolved: false },
    accepted: { approvals: [], used: new Set<string>() },
    overrides: {},
  });
  // Incidents started before requests were alerts replay without posting any.
  s.telling.on = patched(REQUESTS_AS_ALERTS);
  listen(s);
  return s;
}

/** What a decision arriving now is judged against. */
function asking(s: Incident): Asking {
  return {
    run: s.status.run ?? '',
    hold: s.status.hold,
    seq: s.status.holdSeq ?? 0,
    ...(s.plan ? { plan: s.plan } : {}),
    given: approvalsOfPlan(s),
    used: s.accepted.used,
  };
}

/** The approvals of the plan asked for now, as sent, for the acts to check themselves. */
export function mandateOf(s: Incident): Decision[] {
  return s.accepted.approvals.filter((d) => d.action === 'approve' && d.plan !== undefined && d.plan === s.plan?.digest);
}

/** The approvals given for the plan asked for now (one asked for earlier no longer counts). */
export function approvalsOfPlan(s: Incident): RecordedDecision[] {
  return (s.status.approvals ?? []).filter((a) => a.action === 'approve' && a.plan !== undefined && a.plan === s.plan?.digest);
}

/** What the approval gate asks for, in words: who, the plan and its digest, the approvals so far. */
export function approvalRequest(s: Incident): string {
  const plan = s.plan ? ` to ${s.plan.words}; plan ${s.plan.digest}` : '';
  const repeats = s.repeats ? ` (${s.repeats})` : '';
  return `${approvalAsk(s.policy)}${repeats}${plan}${s.policy.approvals > 1 ? `; ${approvalProgress(approvalsOfPlan(s), s.policy.approvals)}` : ''}`;
}

function listen(s: Incident): void {
  // The workflow's clock: a proof too old (or from the future) is refused, the same on replay.
  const judge = (d: unknown, proofChecked = false): Judged => judgeDecision(s.id, d, asking(s), s.policy, Date.now(), { proofChecked });
  setHandler(
    decideUpdate,
    (d) => {
      // The validator ran before this update entered history; replay runs only this handler.
      const j = judge(d, true);
      if (!j.ok) throw new Error(j.why);
      take(s, j.recorded, d);
      return { accepted: true as const, step: s.status.step };
    },
    {
      validator: (d) => {
        const j = judge(d);
        if (!j.ok) throw new Error(j.why);
      },
    },
  );
  setHandler(decideSignal, (d) => {
    const j = judge(d);
    if (!j.ok) note(s, 'signal', `ignored a decision from ${typeof d?.by === 'string' ? d.by.slice(0, 256) : 'nobody'}: ${j.why}`, false);
    else take(s, j.recorded, d);
  });
  setHandler(alertSignal, (a) => {
    // Alertmanager's fingerprints are 16 hex digits; anything else is cut to a line's worth.
    const fingerprint = String(a?.fingerprint).slice(0, 64);
    const endsAt = typeof a?.endsAt === 'string' ? a.endsAt.slice(0, 64) : undefined;
    note(s, 'signal', `alert ${fingerprint} ${a?.status === 'resolved' ? 'resolved' : 'firing'}${endsAt && a.status === 'resolved' ? ` (ended ${endsAt})` : ''}`);
    if (a?.status === 'resolved') s.inbox.alertResolved = true;
  });
}

/**
 * An accepted decision: recorded, then handed to the step, except a first approval of a
 * two-person rule, which keeps the gate open for a second, distinct approver.
 */
function take(s: Incident, r: Omit<RecordedDecision, 'at'>, sent: Decision): void {
  const d: RecordedDecision = { ...r, at: new Date().toISOString() };
  note(s, 'decision', `${describeDecider(d)} via ${d.via}: ${d.action}, because ${d.reason}${d.plan ? ` (plan ${d.plan})` : ''}`);
  if (sent.proof) s.accepted.used.add(String(sent.proof.signature));
  if (s.status.hold === 'approval') {
    s.status.approvals!.push(d);
    s.accepted.approvals.push(sent);
    if (d.action === 'approve') {
      const given = approvalsOfPlan(s);
      if (given.length < s.policy.approvals) {
        note(s, 'wait', `${approvalProgress(given, s.policy.approvals)}; the gate stays open for another approver`);
        s.status.waitingFor = approvalRequest(s);
        return;
      }
    }
  }
  s.inbox.decision = d;
}

export function enter(s: Opened, step: Step): void {
  const now = Date.now();
  s.clock.stepSeconds[s.status.step] = (s.clock.stepSeconds[s.status.step] ?? 0) + (now - s.clock.stepStart) / 1000;
  s.clock.stepStart = now;
  s.status.step = step;
  indexStep(s, step);
}

export function note(s: Opened, kind: EvidenceEntry['kind'], summary: string, ok?: boolean): void {
  s.status.evidence.push({ at: new Date().toISOString(), step: s.status.step, kind, summary, ...(ok === undefined ? {} : { ok }) });
}

/** An open hold: what a human is asked, and since when (for the escalations). */
export interface Waiting {
  waitingFor: string;
  readonly since: number;
  /** How often this hold escalated: its request's severity. */
  escalations: number;
}

export function openHold(s: Incident, hold: Hold, waitingFor: string): Waiting {
  s.status.hold = hold;
  // A proof names the hold it answers by this number: one signed for an earlier hold answers none.
  s.status.holdSeq = (s.status.holdSeq ?? 0) + 1;
  s.status.waitingFor = waitingFor;
  s.inbox.decision = undefined;
  const w = { waitingFor, since: Date.now(), escalations: 0 };
  indexWaiting(s, true);
  note(s, 'wait', `waiting for ${waitingFor}`);
  raise(s, w);
  return w;
}

export function closeHold(s: Incident): void {
  s.status.hold = undefined;
  s.status.waitingFor = undefined;
  indexWaiting(s, false);
  if (s.telling.raised) tell(s, [resolved(s.telling.raised)]);
  s.telling.raised = undefined;
}

const whereOf = (s: Opened): Where => ({ cluster: s.input.cluster, namespace: s.input.namespace, release: s.input.release, incident: s.id });

/**
 * The open hold's request, as it is now (a new plan, an escalation), posted as an alert. An
 * escalation changes its severity label, which makes it another alert: the one it replaces is
 * resolved in the same post.
 */
export function raise(s: Incident, w: Waiting): void {
  if (!s.telling.on || !s.status.hold) return;
  const alert = decisionRequired(whereOf(s), s.status.hold, {
    severity: severityAfter(w.escalations),
    waitingFor: s.status.waitingFor ?? w.waitingFor,
    since: new Date(w.since).toISOString(),
    ...(s.plan ? { plan: s.plan } : {}),
    escalateAfterMs: s.policy.escalateAfterMs,
  });
  const before = s.telling.raised;
  const replaced = before && before.labels.severity !== alert.labels.severity ? [resolved(before)] : [];
  s.telling.raised = alert;
  tell(s, [...replaced, alert]);
}

/** Post after the posts before it; never awaited by the step that asks (finish waits for them all). */
function tell(s: Opened, alerts: RequestAlert[]): void {
  if (!s.telling.on) return;
  s.telling.queue = s.telling.queue.then(() => deliver(s, alerts));
}

/**
 * One post, tried again (1 s, doubling, at most 30 s apart) for the usual budget, counted from the
 * first failure of an outage (the posts queued behind it share it). The first failure is written
 * down at once, and so is a late delivery; a cancelled incident still posts.
 */
async function deliver(s: Opened, alerts: RequestAlert[]): Promise<void> {
  const what = describePost(alerts);
  for (let attempt = 1, waitMs = 1000; s.telling.on; attempt++, waitMs = Math.min(2 * waitMs, 30_000)) {
    try {
      const r = await CancellationScope.nonCancellable(() => triedOnce.postAlerts({ incident: s.id, alerts }));
      s.telling.failingSince = undefined;
      if (!r.delivered) {
        s.telling.on = false;
        note(s, 'check', `nobody is told through Alertmanager: ${r.why}`, false);
      } else if (attempt > 1) note(s, 'check', `the request was delivered to Alertmanager at attempt ${attempt}: ${what}`, true);
      return;
    } catch (err) {
      const cause = err instanceof ActivityFailure && err.cause instanceof Error ? err.cause.message : err instanceof Error ? err.message : String(err);
      const refused = !(err instanceof ActivityFailure) || (err.cause instanceof ApplicationFailure && err.cause.nonRetryable);
      const since = refused ? Date.now() : (s.telling.failingSince ??= Date.now());
      const hopeless = refused || Date.now() - since + waitMs > RETRY_BUDGET_MS;
      if (hopeless) {
        note(s, 'error', `the request could not be delivered to Alertmanager (${what}); gave up: ${cause}`, false);
        return;
      }
      if (attempt === 1) note(s, 'error', `the request could not be delivered to Alertmanager (${what}): ${cause}; trying again for up to ${RETRY_BUDGET}`, false);
      await CancellationScope.nonCancellable(() => sleep(waitMs));
    }
  }
}

/** Every post made or given up: the incident ends only after its last alert is out. */
export async function toldAll(s: Opened): Promise<void> {
  await s.telling.queue;
}

/**
 * Wait on an open hold for a human's decision, or for the alert to resolve. Escalates every
 * escalateAfter and keeps waiting: nobody is approved by default.
 */
export async function nextOnHold(s: Incident, w: Waiting): Promise<RecordedDecision | 'alert-resolved'> {
  s.status.holdSince = new Date(w.since).toISOString();
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
  // What it waits for may have moved on (a first approval, a new plan): say what it is now.
  const waitingFor = s.status.waitingFor ?? w.waitingFor;
  note(s, 'escalation', `escalation ${count}: still waiting for ${waitingFor} after ${formatDuration(waited)}`);
  w.escalations++;
  raise(s, w);
  await retried.notifyEscalation({ incident: s.id, waitingFor, waitedMs: waited, count, summary: waitingFor });
}

/** A human continues past the hold or stops there. A resolved alert changes nothing on it. */
export async function askHuman(s: Incident, hold: Hold, waitingFor: string): Promise<RecordedDecision> {
  const w = openHold(s, hold, waitingFor);
  try {
    for (;;) {
      const next = await nextOnHold(s, w);
      if (next !== 'alert-resolved') return answered(s, w, next);
    }
  } finally {
    leaveHold(s);
  }
}

/** The decision that answers the open hold: how long the hold waited for it is kept for the metrics. */
export function answered(s: Incident, w: Waiting, d: RecordedDecision): RecordedDecision {
  if (s.status.hold) s.clock.decisionWaits.push({ hold: s.status.hold, seconds: Math.max(0, Date.now() - w.since) / 1000 });
  return d;
}

/** The hold closed: nothing waits any more, so there is no "since" to show. */
export function leaveHold(s: Incident): void {
  closeHold(s);
  delete s.status.holdSince;
}

/**
 * Why the incident ends when an activity failed for good (past the retry budget, or refused):
 * what happened, what was and was not done, and how to resume.
 */
export function gaveUp(s: Opened, err: ActivityFailure): string {
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

export async function finish(s: Opened, end: End): Promise<RemediationResult> {
  const { outcome, reason } = end;
  enter(s, 'done');
  s.status.outcome = outcome;
  s.status.reason = reason;
  indexOutcome(s, outcome);
  // Measured at the ending: waiting for the last posts below is not the incident's time.
  const times = recoveryTimes(s.clock, s.status.view.release?.pendingSince, Date.now());
  if (NEEDS_HUMAN.includes(outcome)) tell(s, [needsAttention(whereOf(s), outcome, reason, new Date().toISOString())]);
  // What became of each post is written down before the outcome, which stays the last line.
  await toldAll(s);
  note(s, 'decision', `${outcome}: ${reason}`);
  await retried.reportOutcome({ incident: s.id, outcome, reason, stepSeconds: s.clock.stepSeconds, times });
  const { cluster, namespace, release } = s.input;
  return {
    incident: s.id,
    outcome,
    reason,
    cluster,
    namespace,
    release,
    ...(s.status.approval ? { approval: s.status.approval } : {}),
    ...(s.status.approvals?.length ? { approvals: s.status.approvals } : {}),
    ...end.done,
    escalations: s.status.escalations,
    evidence: s.status.evidence,
  };
}
