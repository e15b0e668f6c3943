// CLI commands that steer incidents: start, approve, reject, status, list, restore, serve.
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { createActivities } from '../activities';
import { clusterRegistry } from '../activities/clusters';
import { formatDuration } from '../decisions/duration';
import { HOLD_ANSWERS, validateRemediationInput, workflowIdFor, type RemediationInput } from '../decisions/remediation';
import { mark } from '../lib/glyphs';
import { forTerminalLine } from '../lib/terminal';
import { loadConfig } from '../lib/config';
import { statusQuery, type RemediationStatus } from '../workflows/definitions';
import type { remediateStuckRelease } from '../workflows/remediate';
import { connectClient } from './connect';
import { CommandError, type CommandIo } from './errors';
import { decide, InvalidRemediationInput, startRemediation, WORKFLOW_TYPE } from './remediation';
import { retriesOf } from './retries';

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

async function status(client: Client, id: string): Promise<RemediationStatus> {
  try {
    const handle = client.workflow.getHandle<typeof remediateStuckRelease>(id);
    // A finished incident is answered from its result: a query would need a worker to replay it.
    const d = await handle.describe();
    if (d.status.name === 'COMPLETED') {
      const r = await handle.result();
      return { incident: id, step: 'done', evidence: r.evidence, escalations: r.escalations, outcome: r.outcome, reason: r.reason, ...(r.approvals ? { approvals: r.approvals } : {}), view: {} };
    }
    if (d.status.name !== 'RUNNING') {
      const outcome = d.status.name === 'CANCELLED' || d.status.name === 'TERMINATED' ? 'aborted' : 'failed';
      return { incident: id, step: 'done', evidence: [], escalations: 0, outcome, reason: `the workflow is ${d.status.name.toLowerCase().replace('_', ' ')}`, view: {} };
    }
    const s = await handle.query(statusQuery);
    const retrying = retriesOf(d, Date.now());
    return retrying ? { ...s, retrying } : s;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new CommandError(`no incident ${id}`);
    throw err;
  }
}

/**
 * approve: go ahead (approve at the gate, continue on a hold); reject: stop (reject, or abort).
 * At the gate the decision names the plan: the one given with --plan (the digest `status` showed
 * you), else the one asked for at this moment, which the answer names.
 */
export async function decideCommand(kind: 'approve' | 'reject', o: { id: string; by?: string; reason?: string; plan?: string }, io: CommandIo): Promise<number> {
  if (!o.reason) throw new CommandError('say why with --reason: it is recorded with your decision');
  return withClient(io, async (client) => {
    const s = await status(client, o.id);
    if (!s.hold) throw new CommandError(`incident ${o.id} is not waiting for a decision (step: ${s.step}${s.outcome ? `, outcome: ${s.outcome}` : ''})`);
    const action = HOLD_ANSWERS[s.hold][kind === 'approve' ? 'go' : 'stop'];
    const plan = s.hold === 'approval' ? (o.plan ?? s.view.plan?.digest) : undefined;
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

/** An incident's evidence for a terminal: summaries quote job names, reasons and log lines. */
export function renderStatus(s: RemediationStatus, from = 0): string {
  const lines = s.evidence.slice(from).map((e) => forTerminalLine(`${e.at.slice(11, 19)}  ${mark(e.ok)} [${e.step}] ${e.summary}`));
  return lines.join('\n') + (lines.length ? '\n' : '');
}

const attempts = (retrying: string | undefined) => retrying?.replace(/, (next in \d+ s|attempt \d+ under way)/g, '');

export async function statusCommand(o: { id: string; watch: boolean; output: string }, io: CommandIo): Promise<number> {
  return withClient(io, async (client) => {
    let s = await status(client, o.id);
    if (o.output === 'json') {
      io.out(JSON.stringify(s, null, 2) + '\n');
      return 0;
    }
    io.out(`${forTerminalLine(`incident ${s.incident}: step ${s.step}${s.outcome ? `, outcome ${s.outcome}` : ''}`)}\n`);
    io.out(renderStatus(s));
    let shown = s.evidence.length;
    let waiting = s.waitingFor;
    if (waiting) io.out(`… waiting for ${forTerminalLine(waiting)}\n`);
    let retrying = s.retrying;
    if (retrying) io.out(`… ${forTerminalLine(retrying)}\n`);
    while (o.watch && !s.outcome) {
      await new Promise((r) => setTimeout(r, 1000));
      try {
        s = await status(client, o.id);
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

export async function listCommand(o: { all: boolean; output: string }, io: CommandIo): Promise<number> {
  return withClient(io, async (client) => {
    const query = `WorkflowType = '${WORKFLOW_TYPE}'${o.all ? '' : " AND ExecutionStatus = 'Running'"}`;
    const rows: { workflowId: string; status: string; started: string; age: string }[] = [];
    for await (const w of client.workflow.list({ query })) {
      rows.push({ workflowId: w.workflowId, status: w.status.name, started: w.startTime.toISOString(), age: formatDuration(Date.now() - w.startTime.getTime()) });
      if (rows.length >= 1000) break;
    }
    if (o.output === 'json') io.out(JSON.stringify(rows, null, 2) + '\n');
    else if (rows.length === 0) io.out(o.all ? 'No incidents.\n' : 'No running incidents.\n');
    else io.out(rows.map((r) => forTerminalLine(`${r.workflowId}  ${r.status}  started ${r.age} ago`)).join('\n') + '\n');
    return 0;
  });
}

export async function restoreCommand(o: { cluster: string; namespace: string; backup: string; driver: string; kubeconfig?: string; context?: string }, io: CommandIo): Promise<number> {
  if (o.driver !== 'secret' && o.driver !== 'configmap') throw new CommandError(`--driver must be secret or configmap, not "${o.driver}"`);
  const acts = createActivities({ kubeFor: clusterRegistry({ ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}), contexts: { [o.cluster]: o.context ?? o.cluster } }) });
  const r = await acts.restoreRelease({ cluster: o.cluster, namespace: o.namespace, driver: o.driver, backupName: o.backup });
  io.out(`${forTerminalLine(r.summary)}\n`);
  return 0;
}

export { workflowIdFor };
