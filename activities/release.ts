// Runbook steps 3 and 5 (observe): a release's history, a scan for stuck releases, and the
// check that Helm shows the release deployed again. Reads as little as it can: Helm's labels
// say revision and status, so payloads are fetched only for the few revisions worth describing.
import pLimit from 'p-limit';
import { PENDING_RECORDS_SELECTOR, validateNamespace, validateReleaseName, type RevisionRecord, type StorageDriver } from '../decisions/helm';
import { determineReleaseState, type ReleaseState } from '../decisions/release-state';
import { judgeVerification, type Verification, type VerifyExpectation } from '../decisions/verification';
import type { KubeFor } from './clusters';
import { InvalidInputError } from './failures';
import { NotAHelmReleaseError, toRevisionRecord, type StoredObject } from './helm-storage';
import type { KubeApi, RecordKind } from './kubernetes';

export interface ReleaseRef {
  cluster: string;
  namespace: string;
  release: string;
  /** Where Helm keeps this release's records; found automatically (Secrets, then ConfigMaps) if unset. */
  driver?: StorageDriver;
}

export const kindOf = (d: StorageDriver): RecordKind => (d === 'secret' ? 'Secret' : 'ConfigMap');
export const releaseSelector = (release: string) => `owner=helm,name=${release}`;

export function validateRef(ref: ReleaseRef): void {
  const problem =
    (!ref.cluster ? 'cluster is empty' : undefined) ?? validateNamespace(ref.namespace) ?? validateReleaseName(ref.release);
  if (problem) throw new InvalidInputError(problem);
  if (ref.driver !== undefined && ref.driver !== 'secret' && ref.driver !== 'configmap') {
    throw new InvalidInputError(`driver must be "secret" or "configmap", not "${String(ref.driver)}"`);
  }
}

export interface ReleaseHistory {
  cluster: string;
  namespace: string;
  release: string;
  /** Where the records were found; undefined when there are none. */
  driver?: StorageDriver;
  /** Oldest first. Chart and description are filled in for the pending and last deployed ones. */
  revisions: RevisionRecord[];
  state: ReleaseState;
  observedAt: string;
}

/** Every revision's labels (metadata only), then the payload of the few that matter. */
export async function loadHistory(kube: KubeApi, ref: ReleaseRef, nowMs: number): Promise<ReleaseHistory> {
  const drivers: StorageDriver[] = ref.driver ? [ref.driver] : ['secret', 'configmap'];
  let driver: StorageDriver | undefined;
  let revisions: RevisionRecord[] = [];
  for (const d of drivers) {
    const objs = await kube.listRecords(kindOf(d), ref.namespace, releaseSelector(ref.release), { metadataOnly: true });
    if (objs.length > 0) {
      driver = d;
      revisions = objs.map(toRevisionRecord).sort((a, b) => a.revision - b.revision);
      break;
    }
  }
  const labelsOnly = determineReleaseState(ref.release, ref.namespace, revisions, nowMs);
  const describe = new Set<number>([
    ...labelsOnly.pending.map((r) => r.revision),
    ...(labelsOnly.lastDeployed ? [labelsOnly.lastDeployed.revision] : []),
    ...(labelsOnly.newest ? [labelsOnly.newest.revision] : []),
  ]);
  revisions = await Promise.all(
    revisions.map(async (r) => {
      if (!describe.has(r.revision) || !driver) return r;
      const full = await kube.getRecord(kindOf(driver), ref.namespace, r.objectName);
      return full ? toRevisionRecord(full) : r;
    }),
  );
  return {
    cluster: ref.cluster,
    namespace: ref.namespace,
    release: ref.release,
    ...(driver ? { driver } : {}),
    revisions,
    state: determineReleaseState(ref.release, ref.namespace, revisions, nowMs),
    observedAt: new Date(nowMs).toISOString(),
  };
}

/** One stuck release, as a scan reports it. */
export interface StuckReleaseSummary {
  namespace: string;
  release: string;
  driver: StorageDriver;
  revision: number;
  status: string;
  objectName: string;
  pendingSince?: string;
  pendingForMs?: number;
  stacked: boolean;
  firstInstall: boolean;
  pendingRevisions: number[];
  lastDeployedRevision?: number;
  reason: string;
}

export interface ScanInput {
  cluster: string;
  /** One namespace, or every namespace when unset. */
  namespace?: string;
  drivers?: StorageDriver[];
}

export interface ScanResult {
  cluster: string;
  namespace: string | null;
  observedAt: string;
  stuck: StuckReleaseSummary[];
  /** Records under Helm's labels that are not valid Helm records, with why. */
  unreadable: { object: string; reason: string }[];
}

/**
 * Stuck releases, from the labels of pending records (metadata only), each confirmed by reading
 * its pending records' payloads; a record that is not a readable Helm release is listed in
 * `unreadable` and its release is not reported stuck.
 */
export async function scan(kube: KubeApi, input: ScanInput, nowMs: number): Promise<ScanResult> {
  if (input.namespace !== undefined) {
    const p = validateNamespace(input.namespace);
    if (p) throw new InvalidInputError(p);
  }
  const unreadable: ScanResult['unreadable'] = [];
  /** The records that are Helm's; the others are listed in `unreadable`, with why. */
  const readable = (objs: StoredObject[]): RevisionRecord[] =>
    objs.flatMap((o) => {
      try {
        return [toRevisionRecord(o)];
      } catch (err) {
        if (!(err instanceof NotAHelmReleaseError)) throw err;
        unreadable.push({ object: `${o.kind} ${o.namespace}/${o.name}`, reason: err.message });
        return [];
      }
    });
  const candidates = new Map<string, { namespace: string; release: string; driver: StorageDriver }>();
  // Only pending records, only metadata, both drivers at once: on a cluster with thousands of
  // revisions this is a handful of small objects.
  const drivers = input.drivers ?? (['secret', 'configmap'] as StorageDriver[]);
  const pendingByDriver = await Promise.all(drivers.map((d) => kube.listRecords(kindOf(d), input.namespace, PENDING_RECORDS_SELECTOR, { metadataOnly: true })));
  for (const [i, driver] of drivers.entries()) {
    for (const r of readable(pendingByDriver[i]!)) {
      candidates.set(`${driver}/${r.namespace}/${r.release}`, { namespace: r.namespace, release: r.release, driver });
    }
  }
  // Each candidate on its own: its history (at most 8 read at once: a scan of a busy cluster must
  // not flood the API server), then, if it is stuck, its pending records read whole once, to prove
  // they are Helm's: anyone who can create a Secret labelled owner=helm can plant one (a gzip
  // bomb, say). Two of those at a time, as each may decompress up to MAX_RELEASE_BYTES.
  const histories = pLimit(8);
  const wholeReads = pLimit(2);
  const judged = await Promise.all(
    [...candidates.values()].map(async (c) => {
      const objs = await histories(() => kube.listRecords(kindOf(c.driver), c.namespace, releaseSelector(c.release), { metadataOnly: true }));
      const state = determineReleaseState(c.release, c.namespace, readable(objs), nowMs);
      if (state.kind !== 'Locked') return { c, state, stuck: false };
      for (const r of state.pending) {
        const full = await wholeReads(() => kube.getRecord(kindOf(c.driver), c.namespace, r.objectName));
        if (full && readable([full]).length === 0) return { c, state, stuck: false };
      }
      return { c, state, stuck: true };
    }),
  );
  const stuck = judged.filter((j) => j.stuck).map(({ c, state }) => stuckSummary(c, state));
  stuck.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.release.localeCompare(b.release));
  return {
    cluster: input.cluster,
    namespace: input.namespace ?? null,
    observedAt: new Date(nowMs).toISOString(),
    stuck,
    unreadable,
  };
}

/** What a scan says of one stuck release: its newest pending record, and the state's facts. */
function stuckSummary(c: { namespace: string; release: string; driver: StorageDriver }, state: ReleaseState): StuckReleaseSummary {
  const top = state.pending[0]!;
  return {
    namespace: c.namespace,
    release: c.release,
    driver: c.driver,
    revision: top.revision,
    status: top.status,
    objectName: top.objectName,
    ...(state.pendingSince ? { pendingSince: state.pendingSince } : {}),
    ...(state.pendingForMs !== undefined ? { pendingForMs: state.pendingForMs } : {}),
    stacked: state.stacked,
    firstInstall: state.firstInstall,
    pendingRevisions: state.pending.map((r) => r.revision),
    ...(state.lastDeployed ? { lastDeployedRevision: state.lastDeployed.revision } : {}),
    reason: state.reason,
  };
}

export interface VerifyInput extends ReleaseRef {
  expect: VerifyExpectation;
}

export interface VerifyResult extends Verification {
  cluster: string;
  namespace: string;
  release: string;
  observedAt: string;
  /** The newest revisions after the unlock, oldest first (labels and chart only). */
  tail: { revision: number; status: string }[];
}

export function createReleaseActivities(kubeFor: KubeFor, now: () => number) {
  return {
    /** Runbook step 3: the release's history and what state it puts the release in. */
    async readReleaseHistory(ref: ReleaseRef): Promise<ReleaseHistory> {
      validateRef(ref);
      return loadHistory(kubeFor(ref.cluster), ref, now());
    },

    /** Find stuck releases in one namespace or all, reading only pending records' metadata. */
    async scanStuckReleases(input: ScanInput): Promise<ScanResult> {
      return scan(kubeFor(input.cluster), input, now());
    },

    /** Runbook step 5: Helm shows the release deployed again (or gone, after a first install). */
    async verifyRelease(input: VerifyInput): Promise<VerifyResult> {
      validateRef(input);
      const h = await loadHistory(kubeFor(input.cluster), input, now());
      return {
        cluster: input.cluster,
        namespace: input.namespace,
        release: input.release,
        observedAt: h.observedAt,
        ...judgeVerification(h.state, input.expect),
        tail: h.revisions.slice(-3).map((r) => ({ revision: r.revision, status: r.status })),
      };
    },
  };
}
