// CLI commands that steer incidents: start, approve, reject, status, serve (list: list-command.ts; restore: restore-command.ts).
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { VERDICT_WORDS } from '../decisions/live-objects';
import { namespaceAllowed, namespaceRefusal } from '../decisions/namespaces';
import { describePlan } from '../decisions/approval';
import { HOLD_ANSWERS, workflowIdFor, type DecisionAction, type Hold } from '../decisions/vocabulary';
import { validateRemediationInput, type RemediationInput } from '../decisions/schemas';
import { mark } from '../lib/glyphs';
import { forTerminal, forTerminalLine } from '../lib/terminal';
import { loadConfig } from '../lib/config';
import type { RemediationStatus } from '../workflows/definitions';
import { connectClient } from '../client/connect';
import { CommandError, type CommandIo } from './errors';
import { decide, incidentStatus, InvalidRemediationInput, awaitedPlanDigest, startRemediation } from '../client/incidents';
import { apiDecide, apiStatus, serveApiFrom, type ServeApi } from './serve-client';

/** One Temporal connection for the whole command, closed at its end. */
async function withClient<T>(io: CommandIo, fn: (client: Client) => Promise<T>): Promise<T> {
  const { client, close } = await connectClient(io.env);
  try {
    return await fn(client);
  } finally {
    await close();
  }
}

function who(by: string | undefined, env: NodeJS.ProcessEnv): string {
  const name = by ?? env.HELM_UNSTUCK_USER ?? env.USER;
  if (!name) throw new CommandError('say who you are with --by (or HELM_UNSTUCK_USER)');
  return name;
}

export async function startCommand(o: { cluster: string; namespace: string; release: string; by?: string; output: string }, io: CommandIo): Promise<number> {
  const config = loadConfig(io.env);
  if (!Object.hasOwn(config.clusters, o.cluster)) throw new CommandError(`cluster "${o.cluster}" is not configured (known: ${Object.keys(config.clusters).join(', ') || 'none'}; HELM_UNSTUCK_CONFIG)`);
  if (!namespaceAllowed(config.clusters[o.cluster]!, o.namespace)) throw new CommandError(namespaceRefusal(o.cluster, o.namespace));
  // Only what the incident is about: the worker applies its own configuration's policy.
  const input: RemediationInput = {
    cluster: o.cluster,
    namespace: o.namespace,
    release: o.release,
    trigger: { source: 'cli', by: who(o.by, io.env) },
  };
  // Checked before connecting (startRemediation checks again): bad input must not start a dev server.
  const problems = validateRemediationInput(input);
  if (problems.length) throw new InvalidRemediationInput(problems);
  return withClient(io, async (client) => {
    const { handle, started } = await startRemediation(client, input, config.taskQueue);
    if (o.output === 'json') io.out(JSON.stringify({ workflowId: handle.workflowId, started }) + '\n');
    else io.out(`${started ? 'started' : 'joined the running'} incident ${handle.workflowId}\n`);
    return 0;
  });
}

async function statusOf(client: Client, id: string): Promise<RemediationStatus> {
  try {
    return await incidentStatus(client, id);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new CommandError(`no incident ${id}`);
    throw err;
  }
}

/**
 * approve: go ahead (approve at the gate, continue on a hold); reject: stop (reject, or abort).
 * Through serve's API when HELM_UNSTUCK_SERVER_URL is set (serve verifies you and signs the
 * decision); else straight to Temporal, where the decision is unverified and the operator's policy
 * refuses it unless it allows unverified decisions. Either way the incident's status is read
 * first, and what the decision answers is said and confirmed before it is sent (`confirmed`).
 */
export async function decideCommand(kind: 'approve' | 'reject', o: DecideOptions, io: CommandIo): Promise<number> {
  if (!o.reason) throw new CommandError('say why with --reason: it is recorded with your decision');
  const api = serveApiFrom(io.env);
  if (api) return decideThroughServe(api, kind, { ...o, reason: o.reason }, io);
  io.err(`helm-unstuck ${kind}: deciding straight through Temporal, as an unverified "${who(o.by, io.env)}": the operator's policy refuses this unless it allows unverified decisions (set HELM_UNSTUCK_SERVER_URL and HELM_UNSTUCK_USER_TOKEN to decide through serve)\n`);
  return withClient(io, async (client) => {
    const { action, plan } = await confirmed(kind, o, await statusOf(client, o.id), io);
    try {
      const r = await decide(client, o.id, { action, by: who(o.by, io.env), reason: o.reason!, ...(plan ? { plan } : {}) });
      io.out(`${action} accepted by incident ${o.id} (at step ${r.step}${plan ? `, plan ${plan}` : ''})\n`);
      return 0;
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new CommandError(`refused: ${err.cause?.message ?? err.message}`);
      throw err;
    }
  });
}

export interface DecideOptions {
  id: string;
  by?: string;
  reason?: string;
  /** The plan digest the person reviewed: must be the one the incident shows now. */
  plan?: string;
  /** Approve what the incident shows now without being asked (scripts; --plan is the safer way). */
  yes?: boolean;
}

function actionFor(kind: 'approve' | 'reject', s: RemediationStatus, id: string): DecisionAction {
  if (!s.hold) throw new CommandError(`incident ${id} is not waiting for a decision (step: ${s.step}${s.outcome ? `, outcome: ${s.outcome}` : ''})`);
  return HOLD_ANSWERS[s.hold][kind === 'approve' ? 'go' : 'stop'];
}

/** The plan's digest as the status shows it, with what it covers, in words. */
function planLine(s: RemediationStatus): string | undefined {
  const digest = awaitedPlanDigest(s);
  if (!digest) return undefined;
  const plan = s.view.plan;
  return `plan ${digest}: ${plan ? describePlan(plan.strategy === 'mark-failed' ? 'mark-failed' : 'delete', plan.records) : '?'}`;
}

const HOLD_WORDS: Record<Hold, string> = { approval: 'the approval gate', 'ci-busy': 'the busy-CI hold', unhealthy: 'the unhealthy-Deployments hold', repeated: 'the repeat-offender hold' };

/**
 * What this decision answers, from the status just read: the hold, the action and the plan, said
 * before anything is sent. A --plan that is not the plan shown now is refused here; an approval
 * of a plan the person did not name is asked for at a terminal, and needs --yes elsewhere.
 */
async function confirmed(kind: 'approve' | 'reject', o: DecideOptions, s: RemediationStatus, io: CommandIo): Promise<{ action: DecisionAction; plan?: string }> {
  const action = actionFor(kind, s, o.id);
  const plan = awaitedPlanDigest(s);
  const line = planLine(s);
  io.err(forTerminalLine(`helm-unstuck ${kind}: incident ${o.id} waits at ${HOLD_WORDS[s.hold!]}; this sends ${action}${line ? ` on ${line}` : ' (no plan to name at this hold)'}`) + '\n');
  if (o.plan !== undefined && o.plan !== plan) {
    throw new CommandError(`--plan ${o.plan} is not the plan the incident shows now (${plan ?? 'none at this hold'}): nothing was sent; review it (helm-unstuck status ${o.id}) and decide again`);
  }
  if (kind === 'approve' && o.plan === undefined && !o.yes) {
    if (!io.confirm) throw new CommandError(`not at a terminal, so not asked: name what you approve with --plan ${plan ?? '<digest>'}${plan ? '' : ' (none at this hold)'} or --yes; nothing was sent`);
    if (!(await io.confirm(`${action} this? [y/N] `))) throw new CommandError('not confirmed: nothing was sent');
  }
  return { action, ...(plan ? { plan } : {}) };
}

async function decideThroughServe(api: ServeApi, kind: 'approve' | 'reject', o: DecideOptions & { reason: string }, io: CommandIo): Promise<number> {
  if (o.by) io.err(`helm-unstuck ${kind}: --by is ignored: serve knows who you are from your user token\n`);
  const { action, plan } = await confirmed(kind, o, await apiStatus(api, o.id), io);
  const r = await apiDecide(api, o.id, { action, reason: o.reason, ...(plan ? { plan } : {}) });
  if (!r.accepted) {
    const now = r.status && planLine(r.status);
    throw new CommandError(`refused: ${r.refused}${now ? `\nthe incident now shows ${now}` : ''}`);
  }
  io.out(`${action} accepted by incident ${o.id} (at step ${r.step}), as ${r.by} (verified by ${r.verifiedBy}, through serve)\n`);
  return 0;
}

/** What the interrupted upgrade already applied, object by object (the approval page says the same). */
function renderApplied(s: RemediationStatus): string {
  const a = s.view.applied;
  if (!a) return '';
  return forTerminal([`applied: ${a.summary}`, ...a.objects.map((o) => `  ${o.kind} ${o.namespace}/${o.name}: ${VERDICT_WORDS[o.verdict]}`)].join('\n') + '\n');
}

/** An incident's evidence for a terminal: summaries quote job names, reasons and log lines. */
export function renderStatus(s: RemediationStatus, from = 0): string {
  const lines = s.evidence.slice(from).map((e) => forTerminalLine(`${e.at.slice(11, 19)}  ${mark(e.ok)} [${e.step}] ${e.summary}`));
  return lines.join('\n') + (lines.length ? '\n' : '');
}

const attempts = (retrying: string | undefined) => retrying?.replace(/, (next in \d+ s|attempt \d+ under way)/g, '');

export async function statusCommand(o: { id: string; watch: boolean; output: string }, io: CommandIo): Promise<number> {
  return withClient(io, async (client) => {
    let s = await statusOf(client, o.id);
    if (o.output === 'json') {
      io.out(JSON.stringify(s, null, 2) + '\n');
      return 0;
    }
    io.out(`${forTerminalLine(`incident ${s.incident}: step ${s.step}${s.outcome ? `, outcome ${s.outcome}` : ''}`)}\n`);
    io.out(renderApplied(s));
    io.out(renderStatus(s));
    let shown = s.evidence.length;
    let waiting = s.waitingFor;
    if (waiting) io.out(`… waiting for ${forTerminalLine(waiting)}\n`);
    let retrying = s.retrying;
    if (retrying) io.out(`… ${forTerminalLine(retrying)}\n`);
    while (o.watch && !s.outcome) {
      await new Promise((r) => setTimeout(r, 1000));
      try {
        s = await statusOf(client, o.id);
      } catch (err) {
        if (err instanceof CommandError) break;
        throw err;
      }
      io.out(renderStatus(s, shown));
      shown = s.evidence.length;
      if (s.waitingFor && s.waitingFor !== waiting) io.out(`… waiting for ${forTerminalLine(s.waitingFor)}\n`);
      waiting = s.waitingFor;
      // Said again when the attempts change, not every second as "next in" counts down.
      if (s.retrying && attempts(s.retrying) !== attempts(retrying)) io.out(`… ${s.retrying}\n`);
      retrying = s.retrying;
    }
    return 0;
  });
}

export { workflowIdFor };
