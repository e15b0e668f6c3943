// An incident, read back from its Temporal history alone (no cluster, no server): what was stuck,
// what was checked, what was shown at approval, who decided, what was backed up and deleted,
// whether Helm showed it deployed again, and what the re-run CI job's dry run said.
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { Activities } from '../activities';
import { isGoodOutcome, workflowIdFor, type Decision, type RecordedDecision } from '../decisions/vocabulary';
import type { RemediationInput } from '../decisions/schemas';
import { decideSignal, type EvidenceEntry } from '../workflows/definitions';
import type { RemediationResult } from '../workflows/remediate';
import { formatDuration } from '../decisions/duration';
import { describePolicy } from '../decisions/policy';
import { mark } from '../lib/glyphs';

type History = temporal.api.history.v1.IHistory;
type Event = temporal.api.history.v1.IHistoryEvent;
type Payloads = temporal.api.common.v1.IPayloads | null | undefined;

export interface TimelineEntry {
  at: string;
  what: string;
  ok?: boolean;
}

/** A decision in the report: `channel` is how it reached Temporal; the rest is the workflow's record, when it has one. */
export type ReportDecision = Omit<Decision, 'proof'> & { at: string; channel: 'update' | 'signal' | 'policy' } & Partial<Pick<RecordedDecision, 'verifiedBy' | 'via' | 'groups'>>;

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
  /**
   * Decisions, in order: as sent (an update's arguments) while the incident runs; once it has
   * ended, those at the approval gate as the workflow recorded them (who, verified how, through
   * which path, on which plan).
   */
  decisions: ReportDecision[];
  escalations: TimelineEntry[];
  unlock?: ResultOf<'unlockRelease'>;
  verification?: ResultOf<'verifyRelease'>;
  /** What the interrupted upgrade had already applied, as shown at approval. */
  applied?: string;
  rerun?: Pick<ResultOf<'readDryRunDiff'>, 'job' | 'diff'>;
  /** What the roll-forward changed on the cluster (the outcome's judge). */
  clusterChange?: string;
  timeline: TimelineEntry[];
  /** The workflow's own evidence, once it has ended (its result carries it): the timeline's picture. */
  evidence?: EvidenceEntry[];
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

type ActivityName = keyof Activities;
type ResultOf<N extends ActivityName> = Awaited<ReturnType<Activities[N]>>;
type InputOf<N extends ActivityName> = Parameters<Activities[N]>[0];

/** What one completed activity says in the report. */
interface Reading {
  what: string;
  ok?: boolean;
}

/**
 * How the report reads one activity's result. Keyed by the `Activities` type, so renaming an
 * activity (or changing its result) is a compile error here, not a report that silently says less.
 */
interface Reader<N extends ActivityName> {
  /** The input is undefined only in a history whose scheduled event lost it. */
  read: (result: ResultOf<N>, input: InputOf<N> | undefined) => Reading;
  /** Listed under "What was checked" (and so among the evidence shown at approval). */
  check?: true;
  /** The timeline line is the reading alone, without the activity's name. */
  unnamed?: true;
  /** The result's part in the report beyond its timeline line. */
  fill?: (report: IncidentReport, result: ResultOf<N>, entry: TimelineEntry) => void;
}

const jobLink = (j: ResultOf<'getCiJob'>) => `${j.id} ${j.name} (${j.webUrl})`;

const READERS: { [N in ActivityName]?: Reader<N> } = {
  checkCiQuiet: { check: true, read: (r) => ({ what: r.summary, ok: r.quiet }) },
  checkDeploymentHealth: {
    check: true,
    read: (r) => ({ what: [r.summary, ...r.deployments.filter((d) => !d.healthy).map((d) => d.summary)].join('. '), ok: r.healthy }),
  },
  readReleaseHistory: {
    check: true,
    read: (r) => ({ what: r.state.reason, ok: r.state.kind === 'Locked' }),
    fill: (report, r, { what }) => {
      if (!report.stuck && r.state.kind === 'Locked') report.stuck = what;
    },
  },
  unlockRelease: {
    read: (r) => ({ what: r.summary, ok: true }),
    fill: (report, r) => {
      report.unlock = r;
    },
  },
  verifyRelease: {
    check: true,
    read: (r) => ({ what: r.summary, ok: r.verified }),
    fill: (report, r) => {
      report.verification = r;
    },
  },
  readLiveObjects: {
    check: true,
    // Before approval it reads the pending record; around the re-run, the backup (same objects).
    read: (r, input) =>
      input?.pending.backupName
        ? { what: `read the release's ${r.objects.length} live objects (identity and digest of what the chart sets) around the re-run` }
        : { what: r.summary, ok: r.changing === 0 || r.applied === r.changing },
    fill: (report, r, { what }) => {
      // The first reading, before approval; the snapshots around the re-run say something else.
      if (what === r.summary) report.applied ??= r.summary;
    },
  },
  findJobToRerun: { read: (r) => ({ what: r ? `failed deploy job to re-run: ${jobLink(r)}` : 'no failed deploy job to re-run' }) },
  retryCiJob: { read: (r) => ({ what: `re-ran the job as job ${r.id} (${r.webUrl})` }) },
  getCiJob: { read: (r) => ({ what: `job ${r.id} is ${r.status}` }) },
  readDryRunDiff: {
    check: true,
    read: (r) => ({ what: `job ${r.job.id} ${r.job.status}; dry run ${r.diff.verdict}: ${r.diff.reason}`, ok: r.diff.verdict === 'no-op' }),
    fill: (report, r) => {
      report.rerun = { job: r.job, diff: r.diff };
    },
  },
  notifyEscalation: {
    // What the escalation was about, from its input; not which activity sent it.
    read: (_, e) => ({ what: `escalation ${e?.count}: still waiting for ${e?.waitingFor} after ${Math.round((e?.waitedMs ?? 0) / 1000)}s` }),
    unnamed: true,
    fill: (report, _, entry) => report.escalations.push(entry),
  },
  reportOutcome: { read: (r) => ({ what: `outcome reported (${r.reported})` }) },
  loadPolicy: { read: (r) => ({ what: describePolicy(r) }), unnamed: true },
};

const isKnown = (name: string): name is ActivityName => Object.hasOwn(READERS, name);

/** One completed activity into the report: its timeline line, and its check or field if it has one. */
function readActivity<N extends ActivityName>(report: IncidentReport, name: N, at: string, result: unknown, input: unknown): { line: string; ok?: boolean } {
  const reader = READERS[name] as Reader<N>;
  const { what, ok } = reader.read(result as ResultOf<N>, input as InputOf<N> | undefined);
  const entry: TimelineEntry = { at, what, ...(ok === undefined ? {} : { ok }) };
  if (reader.check) report.checks.push(entry);
  reader.fill?.(report, result as ResultOf<N>, entry);
  return { line: reader.unnamed ? what : `${name}: ${what}`, ...(ok === undefined ? {} : { ok }) };
}

/** What the handlers share while reading one history. */
interface HistoryReading {
  report: IncidentReport;
  events: Event[];
  scheduled: Map<string, { name: string; input: unknown }>;
  add: (e: Event, what: string, ok?: boolean) => void;
}

/** One kind of history event into the report; each handler is called only for its own kind. */
type EventHandler = (r: HistoryReading, e: Event) => void;

function activityScheduled(r: HistoryReading, e: Event): void {
  const s = e.activityTaskScheduledEventAttributes!;
  r.scheduled.set(String(e.eventId), { name: s.activityType?.name ?? '?', input: decode(s.input) });
}

function activityCompleted(r: HistoryReading, e: Event): void {
  const c = e.activityTaskCompletedEventAttributes!;
  const act = r.scheduled.get(String(c.scheduledEventId));
  const name = act?.name ?? '?';
  // An activity the report does not know (one since removed, say) still gets its line.
  const { line, ok } = isKnown(name) ? readActivity(r.report, name, time(e), decode<unknown>(c.result), act?.input) : { line: `${name} completed`, ok: undefined };
  r.add(e, line, ok);
}

function activityFailed(r: HistoryReading, e: Event): void {
  const f = e.activityTaskFailedEventAttributes!;
  r.add(e, `${r.scheduled.get(String(f.scheduledEventId))?.name ?? '?'} failed: ${f.failure?.message ?? ''}`, false);
}

const updateDecision = (e: Event): Decision | undefined => decode<Decision>(e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.args);

function updateAccepted(r: HistoryReading, e: Event): void {
  const d = updateDecision(e);
  if (!d) return;
  const { proof: _proof, ...said } = d;
  r.report.decisions.push({ ...said, at: time(e), channel: 'update' });
  r.add(e, `${d.by}: ${d.action}, because ${d.reason} (update)`);
}

function signaled(r: HistoryReading, e: Event): void {
  const sig = e.workflowExecutionSignaledEventAttributes!;
  const payload = decode<Record<string, unknown>>(sig.input);
  if (sig.signalName === decideSignal.name) r.add(e, `signal: ${String(payload?.by)} asked to ${String(payload?.action)}: ${String(payload?.reason)}`);
  else r.add(e, `signal ${sig.signalName}: ${JSON.stringify(payload)}`);
}

function timerStarted(r: HistoryReading, e: Event): void {
  const t = e.timerStartedEventAttributes!.startToFireTimeout;
  const ms = Number(t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);
  r.add(e, `durable timer ${ms < 1000 ? `${ms}ms` : formatDuration(ms)}`);
}

/** The workflow ended: its status, its end time, and (for an outcome of its own) why. */
function ended(r: HistoryReading, e: Event, status: IncidentReport['status'], outcome?: { outcome: string; reason: string }): void {
  r.report.status = status;
  r.report.endedAt = time(e);
  if (outcome) Object.assign(r.report, outcome);
}

/** The gate's decisions as the workflow recorded them replace what was merely sent. */
function recordedDecisions(r: HistoryReading, result: RemediationResult): void {
  const recorded = result.approvals ?? (result.approval ? [result.approval] : []);
  if (!recorded.length) return;
  r.report.decisions = r.report.decisions.filter((d) => d.action !== 'approve' && d.action !== 'reject');
  for (const a of recorded) {
    const sent = r.events.some((x) => updateDecision(x)?.by === a.by);
    r.report.decisions.push({ ...a, channel: a.via === 'policy' ? 'policy' : sent ? 'update' : 'signal' });
  }
}

function completed(r: HistoryReading, e: Event): void {
  ended(r, e, 'completed');
  const result = decode<RemediationResult>(e.workflowExecutionCompletedEventAttributes!.result);
  if (!result) return;
  r.report.outcome = result.outcome;
  r.report.reason = result.reason;
  if (Array.isArray(result.evidence)) r.report.evidence = result.evidence;
  if (result.rerun?.cluster) r.report.clusterChange = `${result.rerun.cluster.change}: ${result.rerun.cluster.summary}`;
  recordedDecisions(r, result);
  r.add(e, `finished: ${result.outcome}: ${result.reason}`, isGoodOutcome(result.outcome));
}

function cancelled(r: HistoryReading, e: Event): void {
  ended(r, e, 'cancelled', { outcome: 'aborted', reason: 'cancelled' });
  r.add(e, 'cancelled', false);
}

function failed(r: HistoryReading, e: Event): void {
  const reason = e.workflowExecutionFailedEventAttributes!.failure?.message ?? '';
  ended(r, e, 'failed', { outcome: 'failed', reason });
  r.add(e, `failed: ${reason}`, false);
}

function terminated(r: HistoryReading, e: Event): void {
  ended(r, e, 'terminated');
  r.add(e, `terminated: ${e.workflowExecutionTerminatedEventAttributes!.reason ?? ''}`, false);
}

function timedOut(r: HistoryReading, e: Event): void {
  ended(r, e, 'timed-out');
  r.add(e, 'timed out', false);
}

/** Each event kind the report reads, by the attribute that marks it; any other event adds nothing. */
const EVENT_HANDLERS: [keyof Event, EventHandler][] = [
  ['activityTaskScheduledEventAttributes', activityScheduled],
  ['activityTaskCompletedEventAttributes', activityCompleted],
  ['activityTaskFailedEventAttributes', activityFailed],
  ['workflowExecutionUpdateAcceptedEventAttributes', updateAccepted],
  ['workflowExecutionSignaledEventAttributes', signaled],
  ['timerStartedEventAttributes', timerStarted],
  ['workflowExecutionCompletedEventAttributes', completed],
  ['workflowExecutionCanceledEventAttributes', cancelled],
  ['workflowExecutionFailedEventAttributes', failed],
  ['workflowExecutionTerminatedEventAttributes', terminated],
  ['workflowExecutionTimedOutEventAttributes', timedOut],
];

function startedBy(input: RemediationInput | undefined): string {
  const t = input?.trigger;
  return `started by ${t?.source ?? '?'} (${t?.by ?? '?'})${t?.summary ? `: ${t.summary}` : ''}`;
}

export function buildIncidentReport(history: History): IncidentReport {
  const events = history.events ?? [];
  const first = events[0];
  const started = first?.workflowExecutionStartedEventAttributes;
  if (!first || !started) throw new Error('not a workflow history: the first event is not WorkflowExecutionStarted');
  const input = decode<RemediationInput>(started.input);
  const report: IncidentReport = {
    incident: input ? workflowIdFor(input.cluster, input.namespace, input.release) : '(unknown)',
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
  add(first, startedBy(input));
  const reading: HistoryReading = { report, events, scheduled: new Map(), add };
  for (const e of events) {
    for (const [attributes, handle] of EVENT_HANDLERS) if (e[attributes]) handle(reading, e);
  }
  const decided = report.decisions.find((d) => d.action === 'approve' || d.action === 'reject');
  report.shownAtApproval = report.checks.filter((c) => !decided || c.at <= decided.at).map((c) => `${mark(c.ok)} ${c.what}`);
  return report;
}
