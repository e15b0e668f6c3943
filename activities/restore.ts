// Undoing an unlock: put a backed-up record back exactly as it was. The operator's action, not a
// workflow's: only the CLI's `restore` runs it, in the operator's own process with the operator's
// credentials; the worker does not serve it (createOperatorActions in index.ts), so no workflow,
// ours or anyone else's, can schedule it to lock a release again.
import { judgeBackupDigest, type HistoryDigest } from '../decisions/backup-digest';
import type { StorageDriver } from '../decisions/helm';
import { BACKUP_ANNOTATIONS, MARKED_FROM, originalOf, sameStrings, type HeldRecord } from './backup';
import type { KubeFor } from './clusters';
import { BackupDigestError, BackupError, InvalidInputError } from './failures';
import type { KubeApi } from './kubernetes';
import { kindOf, validateRef } from './release';

export interface BackupRef {
  cluster: string;
  namespace: string;
  driver: StorageDriver;
  backupName: string;
}

export interface RestoreInput extends BackupRef {
  /** What the incident's history recorded for this backup (client/restore-command.ts reads it); default 'not-read'. */
  history?: HistoryDigest;
  /** Restore a backup made before digests as it is, on the operator's word (`--allow-undigested`). */
  allowUndigested?: boolean;
}

export interface RestoreResult {
  cluster: string;
  namespace: string;
  objectName: string;
  revision: number;
  outcome: 'restored' | 'already-restored';
  summary: string;
}

/** What a backup holds, without its contents: enough to find the incident that took it. */
export interface BackupFacts {
  objectName: string;
  release: string;
  revision: number;
  /** The incident recorded on the backup: a claim, to be checked against that incident's history. */
  incident?: string;
}

async function readBackup(kube: KubeApi, input: BackupRef): Promise<HeldRecord> {
  const problem = !input.cluster ? 'cluster is empty' : !input.backupName ? 'backupName is empty' : undefined;
  if (problem) throw new InvalidInputError(problem);
  validateRef({ cluster: input.cluster, namespace: input.namespace, release: 'x', driver: input.driver });
  const kind = kindOf(input.driver);
  const backup = await kube.getRecord(kind, input.namespace, input.backupName);
  if (!backup) throw new BackupError(`no ${kind} ${input.namespace}/${input.backupName}`);
  return originalOf(backup);
}

export function createRestoreActions(kubeFor: KubeFor) {
  return {
    /** The release, revision and incident a backup names (checked as a restore checks them). */
    async describeBackup(input: BackupRef): Promise<BackupFacts> {
      const held = await readBackup(kubeFor(input.cluster), input);
      const incident = held.ann[BACKUP_ANNOTATIONS.incident];
      return { objectName: held.original.name, release: held.release, revision: held.revision, ...(incident ? { incident } : {}) };
    },

    /** Put a backed-up record back exactly as it was (undoes an unlock), if it is what was backed up. */
    async restoreRelease(input: RestoreInput): Promise<RestoreResult> {
      const kube = kubeFor(input.cluster);
      const { original, ann, revision, digest } = await readBackup(kube, input);
      const verdict = judgeBackupDigest({
        computed: digest,
        ...(ann[BACKUP_ANNOTATIONS.digest] !== undefined ? { annotated: ann[BACKUP_ANNOTATIONS.digest] } : {}),
        history: input.history ?? 'not-read',
        allowUndigested: input.allowUndigested === true,
      });
      if (!verdict.ok) throw new BackupDigestError(`${input.backupName}: ${verdict.reason}; restoring nothing`);
      const name = original.name;
      const result = { cluster: input.cluster, namespace: input.namespace, objectName: name, revision };
      const restored = { ...result, outcome: 'restored' as const, summary: `restored ${name} (revision ${revision}) from ${input.backupName} (${verdict.detail})` };
      const cur = await kube.getRecord(original.kind, input.namespace, name);
      if (!cur) {
        await kube.createRecord(original);
        return restored;
      }
      if (sameStrings(cur.data, original.data) && sameStrings(cur.labels, original.labels)) {
        return { ...result, outcome: 'already-restored', summary: `${name} already holds the backed-up record` };
      }
      if (cur.uid === ann[BACKUP_ANNOTATIONS.originalUid] && cur.annotations?.[MARKED_FROM]) {
        await kube.replaceRecord(original, cur.resourceVersion);
        return restored;
      }
      throw new BackupError(`${name} exists and is not the record helm-unstuck changed; refusing to overwrite it`);
    },
  };
}
