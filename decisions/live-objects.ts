// Runbook step 6, made from the cluster rather than a log: what the interrupted upgrade already
// applied, and what the roll-forward really changed. Pure: the activity (activities/live-objects.ts)
// reads the manifests and the live objects; this compares them. Only kinds, names, verdicts and
// object identities come out, never a field's value (a Secret's digest is never computed).
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

/** One object as a chart renders it (one document of a revision's manifest), or as the API server returns it. */
export type KubeObject = Record<string, unknown>;

/**
 * How the live object relates to the two revisions. `applied`: it is as the pending revision
 * wants it (and the last deployed revision wanted it otherwise). `not-applied`: still as the last
 * deployed revision left it. `unchanged`: both revisions want it the same, and it is so.
 * `drift`: it is as neither wants it. `missing`: both want it, it is not there. `unreadable`:
 * we could not read it (the reason says why, e.g. forbidden).
 */
export type LiveVerdict = 'applied' | 'not-applied' | 'unchanged' | 'drift' | 'missing' | 'unreadable';

/** What each live-object verdict means, for the person deciding. */
export const VERDICT_WORDS: Record<LiveVerdict, string> = {
  applied: 'already as the stuck revision wants it',
  'not-applied': 'still as the last deployed revision left it (the next deploy changes it)',
  unchanged: 'the same in both revisions, and so live',
  drift: 'as neither revision wants it (changed by hand?)',
  missing: 'missing from the cluster',
  unreadable: 'could not be read',
};

/** One object of the release, as evidence: identity and verdict, never content. */
export interface LiveObject {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  verdict: LiveVerdict;
  /** The pending revision sets it otherwise than the last deployed one (or only one of them has it). */
  changedByPending: boolean;
  /** Present when the object exists: what the roll-forward's before/after comparison uses. */
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  /** sha256 of the fields the chart sets, as they are live (prefix); never for a Secret. */
  digest?: string;
  /** Why it could not be read. */
  error?: string;
}

export const objectKey = (o: { apiVersion: string; kind: string; namespace: string; name: string }) =>
  `${groupOf(o.apiVersion)}/${o.kind}/${o.namespace}/${o.name}`;
const groupOf = (apiVersion: string) => (apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '');
export const describeObject = (o: { kind: string; namespace: string; name: string }) => `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`;

/** Fields the API server owns: never part of what the chart sets. */
const SERVER_METADATA = ['managedFields', 'resourceVersion', 'uid', 'generation', 'creationTimestamp', 'selfLink', 'ownerReferences', 'finalizers', 'deletionTimestamp', 'deletionGracePeriodSeconds'];

const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Nulls and empty maps and lists say nothing: the API server drops many of them. */
function prune(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(prune);
  if (!isPlain(v)) return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) {
    const p = prune(v[k]);
    if (p === null || p === undefined) continue;
    if (isPlain(p) && Object.keys(p).length === 0) continue;
    if (Array.isArray(p) && p.length === 0) continue;
    out[k] = p;
  }
  return out;
}

/** What the chart sets, in the form the API server keeps it: a Secret's stringData as data. */
export function desiredForm(desired: KubeObject): KubeObject {
  const d: KubeObject = { ...desired };
  delete d.status;
  if (isPlain(d.metadata)) {
    const m: Record<string, unknown> = {};
    for (const k of ['name', 'namespace', 'labels', 'annotations']) if (d.metadata[k] !== undefined) m[k] = d.metadata[k];
    d.metadata = m;
  }
  if (d.kind === 'Secret' && isPlain(d.stringData)) {
    const data: Record<string, unknown> = isPlain(d.data) ? { ...d.data } : {};
    for (const [k, v] of Object.entries(d.stringData)) data[k] = toBase64(String(v));
    d.data = data;
    delete d.stringData;
  }
  return prune(d) as KubeObject;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** base64 of a string's UTF-8 bytes (no Buffer or btoa: this runs in the workflow sandbox too). */
export function toBase64(s: string): string {
  const b = utf8ToBytes(s);
  let out = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i]! << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]! + (i + 1 < b.length ? B64[(n >> 6) & 63]! : '=') + (i + 2 < b.length ? B64[n & 63]! : '=');
  }
  return out;
}

/**
 * The live object seen through what the chart sets: only the fields present in `desired`, so
 * status, managedFields and server defaults (a container's terminationMessagePath, a Service's
 * clusterIP) never count. Lists are compared item by item; a list of another length is kept whole.
 */
export function project(desired: unknown, live: unknown): unknown {
  if (isPlain(desired)) {
    if (!isPlain(live)) return live;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(desired)) {
      if (live[k] !== undefined) out[k] = project(desired[k], live[k]);
    }
    return out;
  }
  if (Array.isArray(desired)) {
    if (!Array.isArray(live) || live.length !== desired.length) return live;
    return desired.map((d, i) => project(d, live[i]));
  }
  return live;
}

function canonical(v: unknown): string {
  return JSON.stringify(prune(v) ?? null);
}

/** Does the live object have every field the chart sets, set the same? */
export function matches(desired: KubeObject, live: KubeObject): boolean {
  const want = desiredForm(desired);
  const liveMeta = isPlain(live.metadata) ? { ...live.metadata } : {};
  for (const k of SERVER_METADATA) delete liveMeta[k];
  return canonical(want) === canonical(project(want, { ...live, metadata: liveMeta }));
}

/** A short digest of the live object's fields the chart sets; undefined for Secrets (a hash of a secret is not evidence we keep). */
export function liveDigest(desired: KubeObject, live: KubeObject): string | undefined {
  if (desired.kind === 'Secret') return undefined;
  return bytesToHex(sha256(utf8ToBytes(canonical(project(desiredForm(desired), live))))).slice(0, 16);
}

/** The identity of a rendered object; namespaced objects without a namespace land in the release's. */
export function identify(o: KubeObject, releaseNamespace: string): { apiVersion: string; kind: string; namespace: string; name: string } | undefined {
  const meta = isPlain(o.metadata) ? o.metadata : {};
  if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string' || typeof meta.name !== 'string') return undefined;
  return { apiVersion: o.apiVersion, kind: o.kind, namespace: typeof meta.namespace === 'string' ? meta.namespace : releaseNamespace, name: meta.name };
}

/**
 * The revision whose objects the re-run deploy is expected to bring: the newest pending upgrade or
 * install (a pending rollback stacked on it is someone's attempt to undo it, not what CI deploys).
 */
export function intendedRevision<R extends { status: string; revision: number }>(state: { pending: readonly R[] }): R | undefined {
  return state.pending.find((r) => r.status !== 'pending-rollback') ?? state.pending[0];
}

/** One object the two revisions name, with what each wants (undefined: that revision has no such object). */
export interface ObjectPair {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  pending?: KubeObject;
  deployed?: KubeObject;
}

/** Pair the pending and last deployed revisions' objects by identity, in the pending revision's order. */
export function pairObjects(pending: KubeObject[], deployed: KubeObject[], releaseNamespace: string): ObjectPair[] {
  const pairs = new Map<string, ObjectPair>();
  const add = (o: KubeObject, side: 'pending' | 'deployed') => {
    const id = identify(o, releaseNamespace);
    if (!id) return;
    const key = objectKey(id);
    const p = pairs.get(key) ?? { ...id };
    p[side] = o;
    pairs.set(key, p);
  };
  for (const o of pending) add(o, 'pending');
  for (const o of deployed) add(o, 'deployed');
  return [...pairs.values()];
}

/** The live object as read: absent, unreadable (why), or its body. */
export type LiveRead = { state: 'absent' } | { state: 'unreadable'; error: string } | { state: 'present'; object: KubeObject };

export function judgeObject(pair: ObjectPair, live: LiveRead): LiveObject {
  const { apiVersion, kind, namespace, name } = pair;
  const changedByPending =
    pair.pending === undefined || pair.deployed === undefined || canonical(desiredForm(pair.pending)) !== canonical(desiredForm(pair.deployed));
  const base = { apiVersion, kind, namespace, name, changedByPending };
  if (live.state === 'unreadable') return { ...base, verdict: 'unreadable', error: live.error };
  const wants = (d: KubeObject | undefined) => (live.state === 'absent' ? d === undefined : d !== undefined && matches(d, live.object));
  const p = wants(pair.pending);
  const d = wants(pair.deployed);
  const verdict: LiveVerdict = p && d ? 'unchanged' : p ? 'applied' : d ? 'not-applied' : live.state === 'absent' ? 'missing' : 'drift';
  if (live.state === 'absent') return { ...base, verdict };
  const m = isPlain(live.object.metadata) ? live.object.metadata : {};
  const digest = liveDigest(pair.pending ?? pair.deployed ?? {}, live.object);
  return {
    ...base,
    verdict,
    ...(typeof m.uid === 'string' ? { uid: m.uid } : {}),
    ...(typeof m.resourceVersion === 'string' ? { resourceVersion: m.resourceVersion } : {}),
    ...(typeof m.generation === 'number' ? { generation: m.generation } : {}),
    ...(digest ? { digest } : {}),
  };
}

/** At most this many objects are named in a sentence; the rest are counted. */
const NAMED = 10;
export function listObjects(objs: readonly { kind: string; namespace: string; name: string }[]): string {
  const named = objs.slice(0, NAMED).map(describeObject).join(', ');
  return objs.length > NAMED ? `${named} and ${objs.length - NAMED} more` : named;
}

/** What the interrupted upgrade already applied, in an SRE's words. */
export interface AppliedEvidence {
  pendingRevision: number;
  deployedRevision?: number;
  /** Objects the pending revision changes, and how many of them are already live. */
  changing: number;
  applied: number;
  summary: string;
}

export function judgeApplied(objects: readonly LiveObject[], pendingRevision: number, deployedRevision: number | undefined): AppliedEvidence {
  const changing = objects.filter((o) => o.changedByPending);
  const applied = changing.filter((o) => o.verdict === 'applied' || o.verdict === 'unchanged');
  const notApplied = changing.filter((o) => o.verdict === 'not-applied');
  const than = deployedRevision === undefined ? 'a first install' : `revision ${deployedRevision}`;
  let summary: string;
  if (changing.length === 0) {
    summary = `revision ${pendingRevision} changes no object compared with ${than}: the next deploy should change nothing`;
  } else if (applied.length === changing.length) {
    summary = `the interrupted upgrade already applied ${applied.length} of ${changing.length} objects (${listObjects(applied)}): after the unlock the next deploy may report these as changes but should change nothing`;
  } else if (applied.length === 0 && notApplied.length === changing.length) {
    summary = `the interrupted upgrade applied 0 of ${changing.length} objects: the next deploy will change these ${changing.length} (${listObjects(notApplied)})`;
  } else {
    summary = `the interrupted upgrade applied ${applied.length} of ${changing.length} objects${applied.length ? ` (${listObjects(applied)})` : ''}${notApplied.length ? `: the next deploy will change ${listObjects(notApplied)}` : ''}`;
  }
  const others = [
    ['match neither revision (drift)', objects.filter((o) => o.verdict === 'drift')],
    ['are missing', objects.filter((o) => o.verdict === 'missing')],
  ] as const;
  for (const [what, objs] of others) if (objs.length) summary += `; ${objs.length} ${what}: ${listObjects(objs)}`;
  const unreadable = objects.filter((o) => o.verdict === 'unreadable');
  for (const o of unreadable.slice(0, NAMED)) summary += `; could not read ${describeObject(o)} (${o.error ?? 'error'})`;
  if (unreadable.length > NAMED) summary += `; could not read ${unreadable.length - NAMED} more`;
  return { pendingRevision, ...(deployedRevision === undefined ? {} : { deployedRevision }), changing: changing.length, applied: applied.length, summary };
}

/** Did the object change between two snapshots? Unreadable either time: we cannot say. */
export function objectChanged(before: LiveObject, after: LiveObject): boolean | undefined {
  if (before.verdict === 'unreadable' || after.verdict === 'unreadable') return undefined;
  if ((before.uid === undefined) !== (after.uid === undefined)) return true;
  if (before.uid === undefined) return false;
  if (before.uid !== after.uid) return true;
  if (before.generation !== after.generation) return true;
  // Digests when we have them (status writes move resourceVersion and change nothing the chart sets);
  // a Secret has none, and nothing but a write moves its resourceVersion.
  if (before.digest !== undefined && after.digest !== undefined) return before.digest !== after.digest;
  return before.resourceVersion !== after.resourceVersion;
}

/** What the roll-forward did to the cluster, against what the pending revision intended. */
export type ClusterChange =
  | { change: 'nothing'; summary: string }
  | { change: 'completed'; summary: string; objects: LiveObject[] }
  | { change: 'unexpected'; summary: string; objects: LiveObject[] }
  /** It changed objects that were, just before it, as neither revision wants them: it undid someone's change. */
  | { change: 'overwrote'; summary: string; objects: LiveObject[] }
  | { change: 'unknown'; summary: string };

/** An object as the person deciding was shown it when approval was asked (the status view: no apiVersion). */
export type SeenObject = Pick<LiveObject, 'kind' | 'namespace' | 'name' | 'verdict'>;

/**
 * Objects already as neither revision wants them just before the re-run: someone changed them
 * (their own deploy, an edit), and the re-run deploy may undo it. When each was so is said from
 * what was shown at approval: changed since (during the incident), already so, or unknown.
 */
export interface DriftBeforeRerun {
  objects: LiveObject[];
  /** When each became so, by describeObject: "changed after approval was asked, when it was …", "already so when approval was asked", "since when unknown". */
  when: Record<string, string>;
  summary: string;
}

export function judgeDriftBeforeRerun(before: readonly LiveObject[], atApproval: readonly SeenObject[] | undefined): DriftBeforeRerun | undefined {
  const objects = before.filter((o) => o.verdict === 'drift');
  if (objects.length === 0) return undefined;
  const seen = new Map((atApproval ?? []).map((o) => [describeObject(o), o.verdict]));
  const when: Record<string, string> = {};
  for (const o of objects) {
    const then = seen.get(describeObject(o));
    when[describeObject(o)] =
      then === undefined ? 'since when unknown' : then === 'drift' ? 'already so when approval was asked' : `changed after approval was asked, when it was ${then}`;
  }
  const list = objects.slice(0, NAMED).map((o) => `${describeObject(o)} (${when[describeObject(o)]})`).join(', ');
  const more = objects.length > NAMED ? ` and ${objects.length - NAMED} more` : '';
  return {
    objects,
    when,
    summary: `before the re-run, ${objects.length} object(s) were as neither revision wants them (someone's own deploy or edit?): ${list}${more}; the re-run may overwrite them`,
  };
}

const nowWords = (o: LiveObject) => (o.verdict === 'drift' ? 'as neither revision wants it' : o.verdict);
const listNow = (objs: readonly LiveObject[]) => objs.map((o) => `${describeObject(o)} (now ${nowWords(o)})`).join(', ');

export function judgeRollForwardChange(before: readonly LiveObject[], after: readonly LiveObject[], drift?: DriftBeforeRerun): ClusterChange {
  const afterByKey = new Map(after.map((o) => [objectKey(o), o]));
  const changed: LiveObject[] = [];
  const unknown: LiveObject[] = [];
  for (const b of before) {
    const a = afterByKey.get(objectKey(b));
    const c = a ? objectChanged(b, a) : undefined;
    if (c === undefined) unknown.push(b);
    else if (c) changed.push(a!);
  }
  const stillNotApplied = after.filter((o) => o.changedByPending && o.verdict === 'not-applied');
  if (before.length === 0 || unknown.length === before.length) {
    const why = before.length === 0 ? 'the revisions name no object' : `could not read ${listObjects(unknown)} before or after the deploy`;
    return { change: 'unknown', summary: `the cluster could not tell what the deploy changed: ${why}` };
  }
  const unsure = unknown.length ? `; could not read ${listObjects(unknown)}, so cannot say for ${unknown.length === 1 ? 'it' : 'them'}` : '';
  const stillDrift = after.filter((a) => a.verdict === 'drift' && !changed.includes(a));
  const drifting = stillDrift.length ? `; ${listObjects(stillDrift)} still ${stillDrift.length === 1 ? 'is' : 'are'} as neither revision wants ${stillDrift.length === 1 ? 'it' : 'them'}` : '';
  if (changed.length === 0) {
    const rest = stillNotApplied.length
      ? `; ${listObjects(stillNotApplied)} still ${stillNotApplied.length === 1 ? 'is' : 'are'} as the last deployed revision left ${stillNotApplied.length === 1 ? 'it' : 'them'}`
      : '';
    return { change: 'nothing', summary: `the deploy changed no object of the release (${before.length - unknown.length} compared)${rest}${drifting}${unsure}` };
  }
  const beforeByKey = new Map(before.map((o) => [objectKey(o), o]));
  // Someone else's change, undone: never the interrupted upgrade completing, whatever it is now.
  const overwritten = changed.filter((a) => beforeByKey.get(objectKey(a))!.verdict === 'drift');
  // Expected: each object that changed now is as the pending revision wants it, and was not before.
  const unexpected = changed.filter((a) => {
    const b = beforeByKey.get(objectKey(a))!;
    return !overwritten.includes(a) && (!(a.verdict === 'applied' || a.verdict === 'unchanged') || b.verdict === 'applied' || b.verdict === 'unchanged');
  });
  if (overwritten.length > 0) {
    const list = overwritten.map((o) => `${describeObject(o)} (as neither revision wanted it before the re-run, ${drift?.when[describeObject(o)] ?? 'since when unknown'}; now ${nowWords(o)})`).join(', ');
    const beyond = unexpected.length ? `; it also changed ${unexpected.length} object(s) beyond the interrupted upgrade's intent: ${listNow(unexpected)}` : '';
    return { change: 'overwrote', objects: [...overwritten, ...unexpected], summary: `the re-run overwrote changes made outside both revisions: ${list}${beyond}${drifting}${unsure}` };
  }
  if (unexpected.length > 0) {
    return { change: 'unexpected', objects: unexpected, summary: `the deploy changed ${changed.length} object(s) beyond the interrupted upgrade's intent: ${listNow(unexpected)}` };
  }
  return {
    change: 'completed',
    objects: changed,
    summary: `the deploy completed the interrupted upgrade: it changed exactly ${listObjects(changed)}, as the pending revision intended${drifting}${unsure}`,
  };
}
