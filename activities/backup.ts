// The unlock's backup: its format (labels, annotations), writing it, and reading back the record it
// holds. A backup is a copy Helm ignores (no owner=helm label) of the record as approved, with the
// digest of exactly what a restore writes back (decisions/backup-digest.ts): on the backup as an
// annotation, and in the incident's history as the unlock's UnlockAction.backupDigest.
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { backupDigest, type BackedUpRecord } from '../decisions/backup-digest';
import { backupName, recordName } from '../decisions/helm';
import type { ApprovedRecord } from '../decisions/runbook';
import { BackupError } from './failures';
import { NotAHelmReleaseError, toRevisionRecord, type StoredObject } from './helm-storage';
import { KubeAlreadyExistsError, type KubeApi, type NewRecord } from './kubernetes';
import type { UnlockStrategy } from '../decisions/schemas';

const A = 'helm-unstuck/';
export const BACKUP_LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  release: `${A}backup-of-release`,
  revision: `${A}backup-of-revision`,
  status: `${A}backup-of-status`,
  takenAt: `${A}backup-taken-at`,
} as const;
export const BACKUP_ANNOTATIONS = {
  originalName: `${A}original-name`,
  originalUid: `${A}original-uid`,
  originalResourceVersion: `${A}original-resource-version`,
  originalType: `${A}original-type`,
  originalLabels: `${A}original-labels`,
  originalAnnotations: `${A}original-annotations`,
  takenAt: `${A}taken-at`,
  incident: `${A}incident`,
  strategy: `${A}strategy`,
  /** backupDigest of the record the backup holds (absent on backups made before digests). */
  digest: `${A}backup-digest`,
} as const;
/** On a record we marked failed: the resourceVersion it had before, so a rerun knows it was us. */
export const MARKED_FROM = `${A}marked-failed-from-resource-version`;

/** What a restore of `cur`'s backup writes back: `cur` itself, as the backup holds it. */
function restorable(cur: StoredObject): NewRecord {
  const annotations = cur.annotations ?? {};
  return {
    kind: cur.kind,
    name: cur.name,
    namespace: cur.namespace,
    labels: cur.labels,
    ...(Object.keys(annotations).length ? { annotations } : {}),
    ...(cur.type ? { type: cur.type } : {}),
    data: cur.data ?? {},
  };
}

const digestOf = (r: NewRecord): string => backupDigest(r satisfies BackedUpRecord);

/** Our backup of `cur`: written now, or found (ours from an earlier attempt, or another incident's). */
export interface Backup {
  name: string;
  backup: 'written' | 'found';
  incident?: string;
  /** The digest of the record it holds, which is `cur` as approved. */
  digest: string;
}

/** What a backup records of the unlock that takes it. */
export interface BackupFor {
  release: string;
  incident: string;
  strategy: UnlockStrategy;
}

export async function backUp(kube: KubeApi, cur: StoredObject, input: BackupFor, takenAt: Date): Promise<Backup> {
  const name = backupName(input.release, Number(cur.labels.version), cur.uid);
  const digest = digestOf(restorable(cur));
  const rec: NewRecord = {
    kind: cur.kind,
    name,
    namespace: cur.namespace,
    // No owner=helm: Helm (and alerts on Helm's labels) must not see the copy as a release.
    labels: {
      [BACKUP_LABELS.managedBy]: 'helm-unstuck',
      [BACKUP_LABELS.release]: input.release,
      [BACKUP_LABELS.revision]: String(cur.labels.version),
      [BACKUP_LABELS.status]: String(cur.labels.status),
      [BACKUP_LABELS.takenAt]: String(Math.floor(takenAt.getTime() / 1000)),
    },
    annotations: {
      [BACKUP_ANNOTATIONS.originalName]: cur.name,
      [BACKUP_ANNOTATIONS.originalUid]: cur.uid,
      [BACKUP_ANNOTATIONS.originalResourceVersion]: cur.resourceVersion,
      [BACKUP_ANNOTATIONS.originalLabels]: JSON.stringify(cur.labels),
      [BACKUP_ANNOTATIONS.originalAnnotations]: JSON.stringify(cur.annotations ?? {}),
      [BACKUP_ANNOTATIONS.takenAt]: takenAt.toISOString(),
      [BACKUP_ANNOTATIONS.incident]: input.incident,
      [BACKUP_ANNOTATIONS.strategy]: input.strategy,
      [BACKUP_ANNOTATIONS.digest]: digest,
      ...(cur.type ? { [BACKUP_ANNOTATIONS.originalType]: cur.type } : {}),
    },
    ...(cur.kind === 'Secret' ? { type: 'helm-unstuck/backup' } : {}),
    data: cur.data ?? {},
  };
  try {
    await kube.createRecord(rec);
    return { name, backup: 'written', incident: input.incident, digest };
  } catch (err) {
    if (!(err instanceof KubeAlreadyExistsError)) throw err;
    // Ours from an earlier attempt (a retry after a failed delete) only if it copies this record:
    // what it would restore is `cur`, byte for byte, and its digest (if it has one, as a backup
    // made before digests has not) says so too.
    const existing = await kube.getRecord(cur.kind, cur.namespace, name);
    const copy =
      existing !== undefined &&
      existing.annotations?.[BACKUP_ANNOTATIONS.originalUid] === cur.uid &&
      heldDigest(existing) === digest &&
      (existing.annotations[BACKUP_ANNOTATIONS.digest] ?? digest) === digest;
    if (!copy) throw new BackupError(`${name} exists but is not a copy of ${cur.name} (uid ${cur.uid}); not overwriting it, deleting nothing`);
    return { name, backup: 'found', incident: existing.annotations?.[BACKUP_ANNOTATIONS.incident], digest };
  }
}

/** The digest of the record `backup` holds, recomputed; undefined if it is no backup of ours. */
function heldDigest(backup: StoredObject): string | undefined {
  try {
    return digestOf(originalOf(backup).original);
  } catch (err) {
    if (err instanceof BackupError) return undefined;
    throw err;
  }
}

/** The digest of our backup as recorded on it, if the record it holds still hashes to it. */
export function intactDigest(backup: StoredObject): string | undefined {
  const held = heldDigest(backup);
  return held !== undefined && held === backup.annotations?.[BACKUP_ANNOTATIONS.digest] ? held : undefined;
}

/** The same keys with the same values; an absent map is an empty one. */
export const sameStrings = (a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean => isDeepStrictEqual(a ?? {}, b ?? {});

/** A JSON object of strings, or undefined: annotations are free text anyone may edit. */
const StringMap = z.record(z.string(), z.string());
function stringMap(json: string | undefined): Record<string, string> | undefined {
  try {
    const r = StringMap.safeParse(JSON.parse(json ?? '{}'));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/** A backup's record as a restore writes it, and its release and revision; its digest checks are the restore's. */
export interface HeldRecord {
  original: NewRecord;
  ann: Record<string, string>;
  release: string;
  revision: number;
  /** Recomputed from the backup as it is now. */
  digest: string;
}

/**
 * The record a backup holds, checked before anything is written: it must be our backup, of a Helm
 * record whose name, labels, payload and backup labels agree. A hand-edited or forged object is
 * refused.
 */
export function originalOf(backup: StoredObject): HeldRecord {
  const bad = (why: string) => new BackupError(`${backup.name} is not a helm-unstuck backup of a Helm record: ${why}`);
  const ann = backup.annotations ?? {};
  const name = ann[BACKUP_ANNOTATIONS.originalName];
  if (backup.labels[BACKUP_LABELS.managedBy] !== 'helm-unstuck') throw bad(`label ${BACKUP_LABELS.managedBy} is not "helm-unstuck"`);
  if (!name) throw bad(`annotation ${BACKUP_ANNOTATIONS.originalName} is missing`);
  const labels = stringMap(ann[BACKUP_ANNOTATIONS.originalLabels]);
  const annotations = stringMap(ann[BACKUP_ANNOTATIONS.originalAnnotations]);
  if (!labels || !annotations) throw bad('its original labels or annotations are not a JSON map of strings');
  const type = ann[BACKUP_ANNOTATIONS.originalType];
  const original: NewRecord = {
    kind: backup.kind,
    name,
    namespace: backup.namespace,
    labels,
    ...(Object.keys(annotations).length ? { annotations } : {}),
    ...(type ? { type } : {}),
    data: backup.data ?? {},
  };
  let release: string, revision: number;
  try {
    // Helm's labels, and a payload of that same release and revision.
    ({ release, revision } = toRevisionRecord({ ...original, uid: '', resourceVersion: '' }));
  } catch (err) {
    if (err instanceof NotAHelmReleaseError) throw bad(err.message);
    throw err;
  }
  if (name !== recordName(release, revision)) throw bad(`${name} is not the record name of ${release} revision ${revision}`);
  if (backup.labels[BACKUP_LABELS.release] !== release || backup.labels[BACKUP_LABELS.revision] !== String(revision)) {
    throw bad(`its labels name ${backup.labels[BACKUP_LABELS.release]} revision ${backup.labels[BACKUP_LABELS.revision]}, its copy ${release} revision ${revision}`);
  }
  // The uid it records is the one its name was made from: a backup claims one object only.
  const uid = ann[BACKUP_ANNOTATIONS.originalUid];
  if (!uid) throw bad(`annotation ${BACKUP_ANNOTATIONS.originalUid} is missing`);
  if (backup.name !== backupName(release, revision, uid)) throw bad(`its name is not the backup name of ${name} with uid ${uid}`);
  return { original, ann, release, revision, digest: digestOf(original) };
}

/** Whether `backup` is our backup of exactly the approved record: its recorded uid and name are that record's. */
export function backsUp(backup: StoredObject, seen: ApprovedRecord): boolean {
  try {
    const { original, ann } = originalOf(backup);
    return ann[BACKUP_ANNOTATIONS.originalUid] === seen.uid && original.name === seen.objectName;
  } catch (err) {
    if (err instanceof BackupError) return false;
    throw err;
  }
}
