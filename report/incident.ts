// An incident, read back from its Temporal history alone (no cluster, no server): what was stuck,
// what was checked, what was shown at approval, who decided, what was backed up and deleted,
// whether Helm showed it deployed again, and what the re-run CI job's dry run said.
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { CiJob } from '../activities/gitlab';
import type { UnlockResult } from '../activities/unlock';
import type { ReleaseHistory, VerifyResult } from '../activities/release';
import type { DiffResult } from '../activities/ci';
import { isGoodOutcome, type Decision, type RemediationInput } from '../decisions/remediation';
import type { RemediationResult } from '../workflows/remediate';
import { formatDuration } from '../decisions/duration';

type History = temporal.api.history.v1.IHistory;
type Event = temporal.api.history.v1.IHistoryEvent;
type Payloads = temporal.api.common.v1.IPayloads | null | undefined;

export interface TimelineEntry {
  at: string;
  what: string;
  ok?: boolean;
}

export interface IncidentReport {
  incident: string;
  status: 'running' | 'completed' | 'failed' | 'cancelled' | 'terminated' | 'timed-out';
  startedAt: string;
  endedAt?: string;
  input?: RemediationInput;
  outcome?: string;
  reason?: string;
  /** What was stuck, as first identified. */
  stuck?: string;
  checks: TimelineEntry[];
  /** What the approver had seen when deciding: every check up to the decision. */
  shownAtApproval: string[];
  decisions: (Decision & { at: string; via: 'update' | 'signal' | 'policy' })[];
  escalations: TimelineEntry[];
  unlock?: UnlockResult;
  verification?: VerifyResult;
  rerun?: { job: CiJob; diff: DiffResult['diff'] };
  timeline: TimelineEntry[];
}

/** When the server recorded an event, in epoch milliseconds (0 if it has no time). */
export function eventTimeMs(e: Event): number {
  const t = e.eventTime;
  return t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : 0;
}

function time(e: Event): string {
  return e.eventTime ? new Date(eventTimeMs(e)).toISOString() : '';
}

function decode<T>(p: Payloads, i = 0): T | undefined {
  const payload = p?.payloads?.[i];
  if (!payload) return undefined;
  return defaultPayloadConverter.fromPayload<T>(payload as never);
}

function activitySummary(name: string, r: unknown): { what: string; ok?: boolean } {
  const x = r as Record<string, unknown> & { summary?: string };
  switch (name) {
    case 'checkCiQuiet':
      return { what: String(x.summary), ok: Boolean(x.quiet) };
    case 'checkDeploymentHealth': {
      const bad = ((x.deployments as { healthy: boolean; summary: string }[]) ?? []).filter((d) => !d.healthy).map((d) => d.summary);
      return { what: [x.summary, ...bad].join('. '), ok: Boolean(x.healthy) };
    }
    case 'readReleaseHistory': {
      const h = r as ReleaseHistory;
      return { what: h.state.reason, ok: h.state.kind === 'Locked' };
    }
    case 'unlockRelease':
      return { what: String(x.summary), ok: true };
    case 'verifyRelease':
      return { what: String(x.summary), ok: Boolean(x.verified) };
    case 'findJobToRerun':
      return { what: r ? `failed deploy job to re-run: ${(r as CiJob).id} ${(r as CiJob).name} (${(r as CiJob).webUrl})` : 'no failed deploy job to re-run' };
    case 'retryCiJob':
      return { what: `re-ran the job as job ${(r as CiJob).id} (${(r as CiJob).webUrl})` };
    case 'getCiJob':
      return { what: `job ${(r as CiJob).id} is ${(r as CiJob).status}` };
    case 'readDryRunDiff': {
      const d = r as DiffResult;
      return { what: `job ${d.job.id} ${d.job.status}; dry run ${d.diff.verdict}: ${d.diff.reason}`, ok: d.diff.verdict === 'no-op' };
    }
    case 'notifyEscalation':
      return { what: `escalation sent (${String(x.notified)})` };
    case 'reportOutcome':
      return { what: `outcome reported (${String(x.reported)})` };
    default:
      return { what: `${name} completed` };
  }
}

export function buildIncidentReport(history: History): IncidentReport {
  const events = history.events ?? [];
  const first = events[0];
  const started = first?.workflowExecutionStartedEventAttributes;
  if (!first || !started) throw new Error('not a workflow history: the first event is not WorkflowExecutionStarted');
  const input = decode<RemediationInput>(started.input);
  const report: IncidentReport = {
    incident: input ? `helm-unstuck/${input.cluster}/${input.namespace}/${input.release}` : '(unknown)',
    status: 'running',
    startedAt: time(first),
    ...(input ? { input } : {}),
    checks: [],
    shownAtApproval: [],
    decisions: [],
    escalations: [],
    timeline: [],
  };
  const add = (e: Event, what: string, ok?: boolean) => report.timeline.push({ at: time(e), what, ...(ok === undefined ? {} : { ok }) });
  add(first, `started by ${input?.trigger.source ?? '?'} (${input?.trigger.by ?? '?'})${input?.trigger.summary ? `: ${input.trigger.summary}` : ''}`);

  const scheduled = new Map<string, { name: string; input: unknown }>();
  const updates = new Map<string, Decision>();
  for (const e of events) {
    const id = String(e.eventId);
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(id, { name: s.activityType?.name ?? '?', input: decode(s.input) });
    const c = e.activityTaskCompletedEventAttributes;
    if (c) {
      const act = scheduled.get(String(c.scheduledEventId));
      const name = act?.name ?? '?';
      const result = decode<unknown>(c.result);
      const { what, ok } = activitySummary(name, result);
      if (['checkCiQuiet', 'checkDeploymentHealth', 'readReleaseHistory', 'verifyRelease', 'readDryRunDiff'].includes(name)) {
        report.checks.push({ at: time(e), what, ...(ok === undefined ? {} : { ok }) });
      }
      if (name === 'readReleaseHistory' && !report.stuck && (result as ReleaseHistory).state.kind === 'Locked') report.stuck = what;
      if (name === 'unlockRelease') report.unlock = result as UnlockResult;
      if (name === 'verifyRelease') report.verification = result as VerifyResult;
      if (name === 'readDryRunDiff') report.rerun = { job: (result as DiffResult).job, diff: (result as DiffResult).diff };
      if (name === 'notifyEscalation') {
        const esc = act?.input as { count: number; waitingFor: string; waitedMs: number } | undefined;
        const w = `escalation ${esc?.count}: still waiting for ${esc?.waitingFor} after ${Math.round((esc?.waitedMs ?? 0) / 1000)}s`;
        report.escalations.push({ at: time(e), what: w });
        add(e, w);
        continue;
      }
      add(e, `${name}: ${what}`, ok);
    }
    const f = e.activityTaskFailedEventAttributes;
    if (f) add(e, `${scheduled.get(String(f.scheduledEventId))?.name ?? '?'} failed: ${f.failure?.message ?? ''}`, false);
    const ua = e.workflowExecutionUpdateAcceptedEventAttributes;
    if (ua) {
      const d = decode<Decision>(ua.acceptedRequest?.input?.args);
      if (d) {
        updates.set(String(ua.protocolInstanceId), d);
        report.decisions.push({ ...d, at: time(e), via: 'update' });
        add(e, `${d.by}: ${d.action}, because ${d.reason} (update)`);
      }
    }
    const sig = e.workflowExecutionSignaledEventAttributes;
    if (sig) {
      const payload = decode<Record<string, unknown>>(sig.input);
      if (sig.signalName === 'decide') add(e, `signal: ${String(payload?.by)} asked to ${String(payload?.action)}: ${String(payload?.reason)}`);
      else add(e, `signal ${sig.signalName}: ${JSON.stringify(payload)}`);
    }
    const timer = e.timerStartedEventAttributes;
    if (timer) {
      const ms = Number(timer.startToFireTimeout?.seconds ?? 0) * 1000 + Math.floor((timer.startToFireTimeout?.nanos ?? 0) / 1e6);
      add(e, `durable timer ${ms < 1000 ? `${ms}ms` : formatDuration(ms)}`);
    }
    const done = e.workflowExecutionCompletedEventAttributes;
    if (done) {
      report.status = 'completed';
      report.endedAt = time(e);
      const r = decode<RemediationResult>(done.result);
      if (r) {
        report.outcome = r.outcome;
        report.reason = r.reason;
        if (r.approval?.by.startsWith('policy')) report.decisions.push({ ...r.approval, via: 'policy' });
        else if (r.approval && !report.decisions.some((d) => d.by === r.approval!.by && d.action === r.approval!.action)) {
          report.decisions.push({ ...r.approval, via: 'signal' });
        }
        add(e, `finished: ${r.outcome}: ${r.reason}`, isGoodOutcome(r.outcome));
      }
    }
    if (e.workflowExecutionCanceledEventAttributes) {
      report.status = 'cancelled';
      report.endedAt = time(e);
      report.outcome = 'aborted';
      report.reason = 'cancelled';
      add(e, 'cancelled', false);
    }
    const failed = e.workflowExecutionFailedEventAttributes;
    if (failed) {
      report.status = 'failed';
      report.endedAt = time(e);
      report.outcome = 'failed';
      report.reason = failed.failure?.message ?? '';
      add(e, `failed: ${report.reason}`, false);
    }
    if (e.workflowExecutionTerminatedEventAttributes) {
      report.status = 'terminated';
      report.endedAt = time(e);
      add(e, `terminated: ${e.workflowExecutionTerminatedEventAttributes.reason ?? ''}`, false);
    }
    if (e.workflowExecutionTimedOutEventAttributes) {
      report.status = 'timed-out';
      report.endedAt = time(e);
      add(e, 'timed out', false);
    }
  }
  const decided = report.decisions.find((d) => d.action === 'approve' || d.action === 'reject');
  report.shownAtApproval = report.checks.filter((c) => !decided || c.at <= decided.at).map((c) => `${c.ok === false ? '✗' : '✓'} ${c.what}`);
  return report;
}
