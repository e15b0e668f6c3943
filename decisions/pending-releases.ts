// Which releases are stuck, from the labels of Helm's pending records alone (the detector's view).
// Pure: the detector calls it at each scrape, tests table-test it.

import { PENDING_STATUSES } from './helm';

export { PENDING_STATUSES };

export interface PendingRecordFacts {
  namespace: string;
  labels: Record<string, string>;
  /** The API server's creation time, Unix seconds. */
  createdSeconds?: number;
}

/** One stuck release: its newest pending revision, and since when the release has been locked. */
export interface StuckRelease {
  namespace: string;
  release: string;
  revision: number;
  status: string;
  /** Unix seconds the oldest pending operation started (Helm's createdAt label). */
  sinceSeconds: number;
}

const seconds = (s: string | undefined): number | undefined => (s !== undefined && /^\d{1,12}$/.test(s) ? Number(s) : undefined);

/**
 * Group pending records by release (stacked pending revisions are one stuck release). Records that
 * are not Helm's or not pending, or lack a name or a revision, are ignored. Helm never updates a
 * pending record, so `createdAt` is when the operation started; without it, the record's creation.
 */
export function stuckReleases(records: Iterable<PendingRecordFacts>): StuckRelease[] {
  const byRelease = new Map<string, StuckRelease>();
  for (const r of records) {
    const { owner, name, status, version } = r.labels;
    const revision = seconds(version);
    if (owner !== 'helm' || !name || revision === undefined || !(PENDING_STATUSES as readonly string[]).includes(status ?? '')) continue;
    const since = seconds(r.labels.createdAt) ?? seconds(r.labels.modifiedAt) ?? r.createdSeconds;
    if (since === undefined) continue;
    const key = `${r.namespace}/${name}`;
    const cur = byRelease.get(key);
    if (!cur) byRelease.set(key, { namespace: r.namespace, release: name, revision, status: status!, sinceSeconds: since });
    else {
      if (revision > cur.revision) Object.assign(cur, { revision, status: status! });
      cur.sinceSeconds = Math.min(cur.sinceSeconds, since);
    }
  }
  return [...byRelease.values()].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.release.localeCompare(b.release));
}
