// Runbook step 4 (act): remove the lock (undoing it is the operator's: restore.ts). Never a rollback.
//
// Before touching a record we prove, at that moment, that it is the pending revision a human
// approved: same uid and resourceVersion (so same status and content), still Helm's newest
// revision, still pending. The delete itself carries uid and resourceVersion as preconditions,
// so a change between our read and the delete makes the API server refuse it. A backup that Helm
// ignores (no owner=helm label) is written first. Running it again is harmless, and a retry sends
// no second DELETE: one that finds its own backup waits for the earlier attempt's request first
// (decisions/approved-record.ts says why).
import { setTimeout as sleep } from 'node:timers/promises';
import { refuseUnlessAdmissionPolicyInForce } from '../decisions/admission-policy';
import { judgeApprovedRecord, markedByUsDetail, settleBeforeActing, type RecordSeen } from '../decisions/approved-record';
import { backupName, isPending, recordName, type StorageDriver } from '../decisions/helm';
import { judgeRecordGone, type RecordGone } from '../decisions/record-gone';
import type { UnlockStrategy } from '../decisions/schemas';
import type { ApprovedRecord } from '../decisions/runbook';
import { AdmissionMonitor, type AdmissionCheck } from './admission';
import { abortedBecause, attemptNumber, attemptSignal, leftToFinish, requestSignal } from './attempt';
import type { KubeFor } from './clusters';
import { BACKUP_ANNOTATIONS, MARKED_FROM, backUp, backsUp, intactDigest } from './backup';
import { BackupError, InvalidInputError, ReleaseChangedError } from './failures';
import { decodePayload, encodePayload, type StoredObject } from './helm-storage';
import {
  KUBE_REQUEST_TIMEOUT_MS,
  KubeConflictError,
  KubeNotFoundError,
  KubeUnavailableError,
  type KubeApi,
  type NewRecord,
} from './kubernetes';
import { kindOf, releaseSelector, validateRef } from './release';

/** Delete the pending record (the runbook), or rewrite its status to failed (as Flux does). */
export type { UnlockStrategy };

export type { ApprovedRecord };

export interface UnlockInput {
  cluster: string;
  namespace: string;
  release: string;
  driver: StorageDriver;
  strategy: UnlockStrategy;
  /** The pending revisions holding the lock, all of them (stacked ones too). */
  approved: ApprovedRecord[];
  /** The workflow id, recorded on the backup. */
  incident: string;
}

export interface UnlockAction {
  revision: number;
  objectName: string;
  uid: string;
  outcome: 'deleted' | 'marked-failed' | 'already-unlocked';
  backupName: string;
  /**
   * backupDigest (decisions/backup-digest.ts) of the record the backup holds: a restore from the
   * CLI checks the backup against it. Absent when the backup could not be vouched for (an unlock
   * that found the record already gone with a backup whose digest does not match it) and in
   * incidents from before digests.
   */
  backupDigest?: string;
  detail: string;
}

export interface UnlockResult {
  cluster: string;
  namespace: string;
  release: string;
  strategy: UnlockStrategy;
  actions: UnlockAction[];
  summary: string;
  at: string;
}

export { backupName };
// The backup's format and the restore live in backup.ts and restore.ts; named here too, as before.
export { BACKUP_ANNOTATIONS, BACKUP_LABELS, MARKED_FROM } from './backup';
export type { RestoreInput, RestoreResult } from './restore';

/**
 * How long a retry that finds its own backup waits, once the API server answers again, before it
 * reads the record again and acts. A request an earlier attempt gave up on is by then inside the
 * API server (its socket's buffer, or being handled), and the server runs what it holds as soon as
 * it runs at all: normally within milliseconds of the answers this retry just had. 5 s leaves
 * room for a loaded server and its etcd write, yet is only a third of one request's timeout, and
 * only such a retry pays it. (A request stuck on another API server replica that stays frozen
 * longer is not waited for; its DELETE's preconditions still keep it from doing harm.)
 */
export const UNLOCK_SETTLE_MS = 5_000;

/**
 * How long the DELETE (or PUT) an attempt gave up on is left to finish: the retry budget
 * (RETRY_BUDGET in workflows/incident.ts), so a server frozen for as long as we retry still
 * completes it when it resumes, and the retry finds it done instead of sending a second one.
 */
export const WRITE_LEFT_TO_FINISH_MS = 15 * 60_000;

/**
 * The unlock's one write: waited for like any request (its timeout, the attempt), but given up on
 * without closing its connection (leftToFinish in attempt.ts says why).
 */
async function writeOnce<R>(what: string, write: () => Promise<R>): Promise<R> {
  const waiting = requestSignal(KUBE_REQUEST_TIMEOUT_MS);
  const why = (left = '') => `${what}${left}: ${abortedBecause(waiting, KUBE_REQUEST_TIMEOUT_MS)}`;
  // An attempt already over sends nothing.
  if (waiting.aborted) throw new KubeUnavailableError(why(), 0, 'Timeout');
  const answer = leftToFinish(WRITE_LEFT_TO_FINISH_MS, write);
  answer.catch(() => undefined); // an answer no one waits for any more
  let giveUp: (() => void) | undefined;
  const gaveUp = new Promise<never>((_, fail) => {
    // The reason last, as every request's (`status` shows it: "…: no answer within 15 s").
    giveUp = () => fail(new KubeUnavailableError(why(' (the request is left to finish)'), 0, 'Timeout'));
    waiting.addEventListener('abort', giveUp, { once: true });
  });
  try {
    return await Promise.race([answer, gaveUp]);
  } finally {
    waiting.removeEventListener('abort', giveUp!);
  }
}

/** The record's uid, resourceVersion and our mark, as judgeApprovedRecord reads them. */
const seenNow = (o: StoredObject | undefined): RecordSeen | undefined =>
  o && { uid: o.uid, resourceVersion: o.resourceVersion, ...(o.annotations?.[MARKED_FROM] ? { markedFrom: o.annotations[MARKED_FROM] } : {}) };

function describeChange(seen: ApprovedRecord, now: StoredObject): string {
  const parts: string[] = [];
  if (now.uid !== seen.uid) parts.push(`uid ${seen.uid} → ${now.uid} (deleted and recreated)`);
  if (now.resourceVersion !== seen.resourceVersion) parts.push(`resourceVersion ${seen.resourceVersion} → ${now.resourceVersion}`);
  if (now.labels.status !== seen.status) parts.push(`status ${seen.status} → ${now.labels.status ?? '(none)'}`);
  return parts.join(', ');
}

/** Wait `ms` (the attempt heartbeats meanwhile, attempt.ts), or until the attempt ends. */
async function settle(ms: number): Promise<void> {
  const signal = attemptSignal();
  await sleep(ms, undefined, signal ? { signal } : {});
}

/** Refuse unless the record is a pending record of the release and no unapproved revision is above it. */
async function refuseUnlessNewestPending(kube: KubeApi, input: UnlockInput, seen: ApprovedRecord, cur: StoredObject): Promise<void> {
  if (cur.labels.owner !== 'helm' || cur.labels.name !== input.release || !isPending(cur.labels.status ?? '')) {
    throw new ReleaseChangedError(`${input.namespace}/${seen.objectName} is not a pending record of ${input.release}; deleting nothing`);
  }
  // Still the newest revision? Newer approved revisions were handled first (deleted, or marked
  // failed and so still there); anything else above this one means Helm has moved on.
  const approvedRevisions = new Set(input.approved.map((a) => a.revision));
  const history = await kube.listRecords(kindOf(input.driver), input.namespace, releaseSelector(input.release), { metadataOnly: true });
  const newer = history.map((o) => Number(o.labels.version)).filter((v) => v > seen.revision && !approvedRevisions.has(v));
  if (newer.length > 0) {
    throw new ReleaseChangedError(
      `${input.release} has revision(s) ${newer.join(', ')} above the approved pending revision ${seen.revision}; deleting nothing`,
    );
  }
}

/** The record as the mark-failed strategy writes it: status failed, and our mark (the approved resourceVersion). */
function markedFailed(cur: StoredObject, seen: ApprovedRecord, input: UnlockInput, now: Date): NewRecord {
  const payload = decodePayload(cur);
  const description = `Release unlocked from stale '${seen.status}' state by helm-unstuck (${input.incident})`;
  payload.info = { ...payload.info, status: 'failed', description };
  return {
    kind: cur.kind,
    name: cur.name,
    namespace: cur.namespace,
    labels: { ...cur.labels, status: 'failed', modifiedAt: String(Math.floor(now.getTime() / 1000)) },
    annotations: { ...(cur.annotations ?? {}), [MARKED_FROM]: seen.resourceVersion },
    ...(cur.type ? { type: cur.type } : {}),
    data: { ...(cur.data ?? {}), release: encodePayload(cur.kind, payload) },
  };
}

/** The API server refused our precondition: our own mark, the record gone, or a change at the last moment. */
async function afterConflict(
  kube: KubeApi,
  input: UnlockInput,
  seen: ApprovedRecord,
  base: Pick<UnlockAction, 'revision' | 'objectName' | 'uid' | 'backupName'>,
  markedByUs: () => UnlockAction,
  kept: string,
): Promise<UnlockAction> {
  const after = await kube.getRecord(kindOf(input.driver), input.namespace, seen.objectName);
  const state = judgeApprovedRecord(seen, input.strategy, seenNow(after));
  // Refused because our own mark is there already (an earlier attempt's PUT landed first): ours.
  if (state === 'marked-by-us') return markedByUs();
  if (state === 'gone') return recordGone(kube, input, seen, base, 'delete');
  const what = after ? describeChange(seen, after) : 'it was deleted';
  throw new ReleaseChangedError(
    `${input.namespace}/${seen.objectName} changed at the last moment (${what}); the API server refused the change; ${kept}`,
  );
}

async function unlockOne(kube: KubeApi, input: UnlockInput, seen: ApprovedRecord, now: Date, settleMs: number): Promise<UnlockAction> {
  const kind = kindOf(input.driver);
  const bname = backupName(input.release, seen.revision, seen.uid);
  const base = { revision: seen.revision, objectName: seen.objectName, uid: seen.uid, backupName: bname };
  const earlierAttempt = attemptNumber() > 1;
  const markedByUs = (): UnlockAction => ({ ...base, outcome: 'already-unlocked', detail: markedByUsDetail(seen.objectName, earlierAttempt) });
  /** The record now, if still as approved; else what was done already (gone, or our mark), or a refusal. */
  const look = async (kept = ''): Promise<StoredObject | UnlockAction> => {
    const now = await kube.getRecord(kind, input.namespace, seen.objectName);
    const state = judgeApprovedRecord(seen, input.strategy, seenNow(now));
    if (state === 'gone' || !now) return recordGone(kube, input, seen, base, 'look');
    if (state === 'marked-by-us') return markedByUs();
    if (state === 'changed') {
      throw new ReleaseChangedError(
        `${input.namespace}/${seen.objectName} changed since it was approved: ${describeChange(seen, now)}; deleting nothing${kept}`,
      );
    }
    return now;
  };
  const cur = await look();
  if ('outcome' in cur) return cur;
  await refuseUnlessNewestPending(kube, input, seen, cur);

  const backup = await backUp(kube, cur, input, now);
  // From here on the backup exists: whatever the outcome, it holds the record as approved.
  const withDigest = (a: UnlockAction): UnlockAction => ({ ...a, backupDigest: backup.digest });
  if (settleBeforeActing({ backup: backup.backup, backupIncident: backup.incident, incident: input.incident, earlierAttempt })) {
    // An earlier attempt of ours wrote this backup, so it may have sent its DELETE (or PUT), and the
    // API server, answering us now, may not have run it yet. Give it time, then look again: one
    // request in all, never ours on top of it.
    await settle(settleMs);
    const after = await look(`; backup ${bname} kept`);
    if ('outcome' in after) return withDigest(after);
    // Still as approved: the earlier attempt's request never arrived (or was refused). Ours is the one.
  }

  try {
    if (input.strategy === 'delete') {
      await writeOnce(`delete ${kind} ${input.namespace}/${seen.objectName}`, () =>
        kube.deleteRecord(kind, input.namespace, seen.objectName, { uid: seen.uid, resourceVersion: seen.resourceVersion }),
      );
      return withDigest({ ...base, outcome: 'deleted', detail: `deleted ${seen.objectName} (revision ${seen.revision}, ${seen.status}); backup ${bname}` });
    }
    const marked = markedFailed(cur, seen, input, now);
    await writeOnce(`replace ${kind} ${input.namespace}/${seen.objectName}`, () => kube.replaceRecord(marked, seen.resourceVersion));
    return withDigest({ ...base, outcome: 'marked-failed', detail: `marked ${seen.objectName} (revision ${seen.revision}) failed; backup ${bname}` });
  } catch (err) {
    // The backup stays: it is a copy of the record as approved, and an operator may want it.
    const kept = `backup ${bname} kept`;
    if (err instanceof KubeConflictError) return withDigest(await afterConflict(kube, input, seen, base, markedByUs, kept));
    if (err instanceof KubeNotFoundError) return withDigest(await recordGone(kube, input, seen, base, 'delete'));
    throw err;
  }
}

/** The approved record is not there (when first looked for, or at the delete): ours, or someone else's? */
async function recordGone(
  kube: KubeApi,
  input: UnlockInput,
  seen: ApprovedRecord,
  base: Omit<UnlockAction, 'outcome' | 'detail'>,
  when: RecordGone['when'],
): Promise<UnlockAction> {
  const found = await kube.getRecord(kindOf(input.driver), input.namespace, base.backupName);
  // Only our backup of exactly this record counts: a copy naming another record is no backup.
  const backup = found && backsUp(found, seen) ? found : undefined;
  const ann = backup?.annotations ?? {};
  const judged = judgeRecordGone(
    {
      incident: input.incident,
      uid: seen.uid,
      strategy: input.strategy,
      ...(backup ? { backup: { originalUid: ann[BACKUP_ANNOTATIONS.originalUid], incident: ann[BACKUP_ANNOTATIONS.incident] } } : {}),
      when,
      earlierAttempt: attemptNumber() > 1,
    },
    { object: `${input.namespace}/${seen.objectName}`, backup: base.backupName },
  );
  if (judged.verdict === 'changed') throw new ReleaseChangedError(judged.reason);
  const digest = backup && intactDigest(backup);
  return { ...base, outcome: judged.verdict === 'deleted-by-us' ? 'deleted' : 'already-unlocked', ...(digest ? { backupDigest: digest } : {}), detail: judged.detail };
}

function validateUnlock(input: UnlockInput): ApprovedRecord[] {
  validateRef({ cluster: input.cluster, namespace: input.namespace, release: input.release, driver: input.driver });
  if (input.strategy !== 'delete' && input.strategy !== 'mark-failed') {
    throw new InvalidInputError(`strategy must be "delete" or "mark-failed", not "${String(input.strategy)}"`);
  }
  if (!input.incident) throw new InvalidInputError('incident is empty');
  if (!Array.isArray(input.approved) || input.approved.length === 0) throw new InvalidInputError('no approved records to unlock');
  for (const a of input.approved) {
    if (a.objectName !== recordName(input.release, a.revision)) {
      throw new InvalidInputError(`${a.objectName} is not the record of ${input.release} revision ${a.revision}`);
    }
    if (!isPending(a.status)) throw new InvalidInputError(`revision ${a.revision} was approved as ${a.status}, which is not pending`);
    if (!a.uid || !a.resourceVersion) throw new InvalidInputError(`revision ${a.revision} lacks the uid or resourceVersion seen at approval`);
  }
  return [...input.approved].sort((a, b) => b.revision - a.revision);
}

export interface UnlockOptions {
  /** The settle wait (UNLOCK_SETTLE_MS); tests shorten it. */
  settleMs?: number;
  /** Whether the admission policy must be in force, and is (activities/admission.ts); default: required on every cluster. */
  admission?: AdmissionCheck;
}

export function createUnlockActivities(kubeFor: KubeFor, now: () => number, opts: UnlockOptions = {}) {
  const settleMs = opts.settleMs ?? UNLOCK_SETTLE_MS;
  const admission = opts.admission ?? new AdmissionMonitor(kubeFor, {}).check;
  return {
    /** Runbook step 4: back up, then delete (or mark failed) each approved pending record. */
    async unlockRelease(input: UnlockInput): Promise<UnlockResult> {
      refuseUnlessAdmissionPolicyInForce(await admission(input.cluster, input.namespace));
      const approved = validateUnlock(input);
      const kube = kubeFor(input.cluster);
      const at = new Date(now());
      const actions: UnlockAction[] = [];
      for (const a of approved) {
        try {
          actions.push(await unlockOne(kube, input, a, at, settleMs));
        } catch (err) {
          // A refusal after newer stacked revisions were handled must not read as "nothing done".
          if (actions.length === 0 || !(err instanceof ReleaseChangedError || err instanceof BackupError)) throw err;
          const done = actions.map((x) => `revision ${x.revision} ${x.outcome} (backup ${x.backupName})`).join(', ');
          const message = `${err.message}; already done before this: ${done}`;
          throw err instanceof BackupError ? new BackupError(message) : new ReleaseChangedError(message);
        }
      }
      const did = actions.map((a) => `revision ${a.revision}: ${a.outcome}`).join('; ');
      return {
        cluster: input.cluster,
        namespace: input.namespace,
        release: input.release,
        strategy: input.strategy,
        actions,
        summary: `${input.namespace}/${input.release} unlocked (${input.strategy}): ${did}`,
        at: at.toISOString(),
      };
    },
  };
}
