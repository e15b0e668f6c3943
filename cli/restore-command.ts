// `helm-unstuck restore`: put a backed-up record back, in the operator's own process with the
// operator's credentials, once the backup is proven to be what the incident backed up: its
// contents hash to the digest the incident's history recorded for it (and to its own annotation).
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { createOperatorActions } from '../activities';
import type { BackupRef } from '../activities/restore';
import { clusterRegistry } from '../activities/clusters';
import type { HistoryDigest } from '../decisions/backup-digest';
import { workflowIdFor } from '../decisions/vocabulary';
import { loadConfig } from '../lib/config';
import { forTerminalLine } from '../lib/terminal';
import { backupInHistory, type OurRun } from './backup-history';
import { connectClient } from '../client/connect';
import { CommandError, type CommandIo } from './errors';
import { WORKFLOW_TYPE } from '../client/incidents';

export interface RestoreOptions {
  cluster: string;
  namespace: string;
  backup: string;
  driver: string;
  kubeconfig?: string;
  context?: string;
  /** Check the backup against its own digest annotation only (the incident's history is gone). */
  withoutHistory?: boolean;
  /** Restore a backup made before digests as it is. */
  allowUndigested?: boolean;
}

/** How many of the release's incidents (runs of its workflow id) are searched for the backup. */
const RUNS_SEARCHED = 100;

/** The digest recorded for the backup by one of the release's incidents: the newest run first, then older ones. */
async function recordedDigest(client: Client, incident: string, backupName: string, ours: OurRun): Promise<Exclude<HistoryDigest, 'not-read'> | undefined> {
  const latest = client.workflow.getHandle(incident);
  let latestRun: string | undefined;
  try {
    latestRun = (await latest.describe()).runId;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
  const found = backupInHistory(await latest.fetchHistory(), backupName, ours);
  if (found) return found;
  let searched = 0;
  for await (const run of client.workflow.list({ query: `WorkflowId = '${incident.replace(/'/g, "\\'")}'` })) {
    if (run.runId === latestRun) continue;
    if (++searched > RUNS_SEARCHED) break;
    const older = backupInHistory(await client.workflow.getHandle(incident, run.runId).fetchHistory(), backupName, ours);
    if (older) return older;
  }
  return undefined;
}

async function historyOf(io: CommandIo, incident: string, backupName: string): Promise<Exclude<HistoryDigest, 'not-read'>> {
  const ours = { workflowType: WORKFLOW_TYPE, taskQueue: loadConfig(io.env).taskQueue };
  const { client, close } = await connectClient(io.env);
  let found;
  try {
    found = await recordedDigest(client, incident, backupName, ours);
  } finally {
    await close();
  }
  if (!found) {
    throw new CommandError(
      `no incident ${incident} (workflow ${WORKFLOW_TYPE} on task queue ${ours.taskQueue}) records backup ${backupName}, so nothing proves it is what was backed up; restoring nothing (--without-history checks it against its own digest only)`,
    );
  }
  return found;
}

export async function restoreCommand(o: RestoreOptions, io: CommandIo): Promise<number> {
  if (o.driver !== 'secret' && o.driver !== 'configmap') throw new CommandError(`--driver must be secret or configmap, not "${o.driver}"`);
  const ops = createOperatorActions({ kubeFor: clusterRegistry({ ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}), contexts: { [o.cluster]: o.context ?? o.cluster } }) });
  const ref: BackupRef = { cluster: o.cluster, namespace: o.namespace, driver: o.driver, backupName: o.backup };
  let history: HistoryDigest = 'not-read';
  if (o.withoutHistory) {
    io.err(`helm-unstuck restore: --without-history: ${o.backup} is checked against its own digest only, which whoever can rewrite the backup can rewrite too\n`);
  } else {
    // The incident is the release's, named from the backup's checked contents, not from its word.
    const { release } = await ops.describeBackup(ref);
    history = await historyOf(io, workflowIdFor(o.cluster, o.namespace, release), o.backup);
  }
  const r = await ops.restoreRelease({ ...ref, history, ...(o.allowUndigested ? { allowUndigested: true } : {}) });
  io.out(`${forTerminalLine(r.summary)}\n`);
  return 0;
}
