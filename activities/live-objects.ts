// Runbook step 6, observed on the cluster: every object of the pending and the last deployed
// revision's manifests, read live and judged (decisions/live-objects.ts). The manifests are
// decoded here, in memory, and never leave this process: the result holds kinds, names,
// verdicts and object identities only.
import pLimit from 'p-limit';
import type { StorageDriver } from '../decisions/helm';
import { judgeApplied, judgeObject, pairObjects, type AppliedEvidence, type KubeObject, type LiveObject, type LiveRead } from '../decisions/live-objects';
import type { KubeFor } from './clusters';
import { InvalidInputError } from './failures';
import { decodePayload, NotAHelmReleaseError } from './helm-storage';
import { KubeForbiddenError, KubeNotServedError, parseManifest, type KubeApi } from './kubernetes';
import { kindOf, validateRef, type ReleaseRef } from './release';

/** Where one revision's manifest is kept: its record, or helm-unstuck's backup of it (once unlocked). */
export interface RevisionSource {
  revision: number;
  objectName: string;
  /** Read this backup instead of the record: after a delete the same record name may hold a new revision. */
  backupName?: string;
}

export interface LiveObjectsInput extends ReleaseRef {
  driver: StorageDriver;
  /** The revision the interrupted upgrade was deploying. */
  pending: RevisionSource;
  /** The last deployed revision underneath; none after a stuck first install. */
  deployed?: RevisionSource;
}

export interface LiveObjectsResult extends AppliedEvidence {
  objects: LiveObject[];
  /** Objects past the cap, not read. */
  omitted?: number;
  observedAt: string;
}

/** At most this many objects are read and kept (history has a size limit). */
export const MAX_LIVE_OBJECTS = 200;

async function manifestOf(kube: KubeApi, input: LiveObjectsInput, src: RevisionSource): Promise<KubeObject[]> {
  const name = src.backupName ?? src.objectName;
  const obj = await kube.getRecord(kindOf(input.driver), input.namespace, name);
  if (!obj) throw new InvalidInputError(`no ${kindOf(input.driver)} ${input.namespace}/${name} holding revision ${src.revision}`);
  const payload = decodePayload(obj);
  if (payload.name !== input.release || payload.version !== src.revision) {
    throw new NotAHelmReleaseError(`${input.namespace}/${name} holds ${payload.name} revision ${payload.version}, not ${input.release} revision ${src.revision}`);
  }
  if (typeof payload.manifest !== 'string') return [];
  try {
    return parseManifest(payload.manifest);
  } catch (err) {
    // Not retryable, and not quoted: the YAML library's message shows the lines around the fault,
    // which are the release's own manifest (Secrets' values among them) and must not reach history.
    const at = (err as { mark?: { line?: number; column?: number } }).mark;
    const where = at?.line !== undefined ? ` (line ${at.line + 1}, column ${(at.column ?? 0) + 1})` : '';
    throw new NotAHelmReleaseError(`${input.namespace}/${name}: the manifest of revision ${src.revision} is not valid YAML${where}`);
  }
}

async function readLive(kube: KubeApi, o: { apiVersion: string; kind: string; namespace: string; name: string }): Promise<LiveRead> {
  try {
    const object = await kube.readObject(o);
    return object ? { state: 'present', object } : { state: 'absent' };
  } catch (err) {
    // Our identity may lack `get` on this kind, or the kind is not served: evidence, not a failure.
    if (err instanceof KubeForbiddenError) return { state: 'unreadable', error: 'forbidden' };
    if (err instanceof KubeNotServedError) return { state: 'unreadable', error: 'kind not served by the API server' };
    throw err;
  }
}

export async function readLiveObjects(kube: KubeApi, input: LiveObjectsInput, nowMs: number): Promise<LiveObjectsResult> {
  validateRef(input);
  const [pending, deployed] = await Promise.all([
    manifestOf(kube, input, input.pending),
    input.deployed ? manifestOf(kube, input, input.deployed) : Promise.resolve([]),
  ]);
  const pairs = pairObjects(pending, deployed, input.namespace);
  const read = pairs.slice(0, MAX_LIVE_OBJECTS);
  const objects = await pLimit(4).map(read, async (p) => judgeObject(p, await readLive(kube, p)));
  const omitted = pairs.length - read.length;
  return {
    ...judgeApplied(objects, input.pending.revision, input.deployed?.revision),
    objects,
    ...(omitted > 0 ? { omitted } : {}),
    observedAt: new Date(nowMs).toISOString(),
  };
}

export function createLiveObjectActivities(kubeFor: KubeFor, now: () => number) {
  return {
    /** What the interrupted upgrade already applied; before and after the roll-forward, what changed. */
    async readLiveObjects(input: LiveObjectsInput): Promise<LiveObjectsResult> {
      return readLiveObjects(kubeFor(input.cluster), input, now());
    },
  };
}
