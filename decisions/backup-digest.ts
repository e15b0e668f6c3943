// A backup's digest: SHA-256 over exactly what a restore writes back (the record's kind,
// namespace, name, type, labels, annotations and data), in one canonical form. The unlock records
// it twice, on the backup (an annotation) and in the incident's history (its UnlockAction); a
// restore recomputes it and refuses a backup that says otherwise. The annotation alone only
// catches a careless edit (whoever rewrites the data can rewrite it too); the history's copy is
// the one a rewriter of the backup cannot reach.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalJson } from './policy';

/** What a restore writes: the backed-up record as it was. */
export interface BackedUpRecord {
  kind: string;
  namespace: string;
  name: string;
  /** A Secret's type; absent for a ConfigMap. */
  type?: string;
  labels: Record<string, string>;
  /** None and `{}` are the same record. */
  annotations?: Record<string, string>;
  data: Record<string, string>;
}

export const DIGEST_PREFIX = 'sha256:';

/** The form hashed: keys sorted at every level, an absent type as null, absent annotations as `{}`. */
export function canonicalBackup(r: BackedUpRecord): string {
  return canonicalJson({
    kind: r.kind,
    namespace: r.namespace,
    name: r.name,
    type: r.type ?? null,
    labels: r.labels,
    annotations: r.annotations ?? {},
    data: r.data,
  });
}

/** `sha256:<64 hex>` of the canonical form. */
export const backupDigest = (r: BackedUpRecord): string => DIGEST_PREFIX + bytesToHex(sha256(utf8ToBytes(canonicalBackup(r))));

/**
 * What the incident's history says of the backup: the digest its unlock recorded; that it
 * recorded the backup without one (an incident from before digests); or nothing, because the
 * operator restores without reading it (`restore --without-history`).
 */
export type HistoryDigest = { digest: string } | 'recorded-without-digest' | 'not-read';

export interface DigestCheck {
  /** Recomputed from the backup as it is now. */
  computed: string;
  /** The backup's own digest annotation, if it has one. */
  annotated?: string;
  history: HistoryDigest;
  /** The operator vouches for a backup made before digests (`restore --allow-undigested`). */
  allowUndigested: boolean;
}

export type DigestVerdict = { ok: true; detail: string } | { ok: false; reason: string };

const UNDIGESTED = 'it was made before backups carried a digest, so nothing proves it is what was backed up; check it by hand and pass --allow-undigested to restore it as it is';

/** Whether a backup may be restored, as its contents compare with the digests recorded for it. */
export function judgeBackupDigest(c: DigestCheck): DigestVerdict {
  const recorded = typeof c.history === 'object' ? c.history.digest : undefined;
  if (c.annotated !== undefined && c.annotated !== c.computed) {
    return { ok: false, reason: `it was rewritten since it was taken: its contents hash to ${c.computed}, its digest annotation says ${c.annotated}` };
  }
  if (recorded !== undefined && recorded !== c.computed) {
    return { ok: false, reason: `it is not the backup the incident took: its contents hash to ${c.computed}, the incident's history recorded ${recorded}` };
  }
  // The history's word is the stronger one: contents matching it are the backup, annotation or not.
  if (recorded !== undefined) return { ok: true, detail: `digest ${c.computed} matches the incident's history` };
  if (c.history === 'recorded-without-digest' && c.annotated !== undefined) {
    // Backups got their digest when incidents started recording it: never one without the other.
    return { ok: false, reason: `it carries a digest, but the incident that took it recorded none: it is not the backup that incident took` };
  }
  if (c.annotated === undefined) {
    return c.allowUndigested ? { ok: true, detail: 'no digest (made before digests), restored as it is on the operator\'s word' } : { ok: false, reason: UNDIGESTED };
  }
  return { ok: true, detail: `digest ${c.computed} matches its own annotation (the incident's history was not read)` };
}
