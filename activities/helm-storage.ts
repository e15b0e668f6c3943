// Helm's storage format (pkg/storage/driver, the same in Helm 3 and 4), read and written here
// and nowhere else. A release payload holds the chart, the user's values and the rendered
// manifest, often with secrets in them: it is decoded in memory, a few harmless fields are kept,
// and the rest never leaves this process.
import { gunzipSync, gzipSync } from 'node:zlib';
import { isReleaseStatus, type ReleaseStatus, type RevisionRecord, type StorageDriver } from '../decisions/helm';

/** A Secret or ConfigMap as the adapter hands it over: plain data. */
export interface StoredObject {
  kind: 'Secret' | 'ConfigMap';
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  /** Secret type; undefined for ConfigMaps. */
  type?: string;
  /**
   * The data map as the API returns it (a Secret's values base64 once more), or undefined when
   * only metadata was read. Helm keeps the release under the key `release`.
   */
  data?: Record<string, string>;
}

export class NotAHelmReleaseError extends Error {
  override name = 'NotAHelmReleaseError';
}

/** The parts of Helm's release JSON we use. Everything else stays opaque. */
export interface ReleasePayload {
  name: string;
  namespace?: string;
  version: number;
  info: {
    status: string;
    description?: string;
    first_deployed?: string;
    last_deployed?: string;
    deleted?: string;
    [k: string]: unknown;
  };
  chart?: { metadata?: { name?: string; version?: string; appVersion?: string } };
  [k: string]: unknown;
}

const GZIP_MAGIC = [0x1f, 0x8b, 0x08];

/**
 * The largest release JSON we decompress (Helm's own records are limited by the 1 MiB object
 * size, compressed: a real one inflates to a few MiB). Anyone who can create a Secret labelled
 * owner=helm can plant a gzip bomb; past this cap it is not a readable Helm release.
 */
export const MAX_RELEASE_BYTES = 32 * 1024 * 1024;
const mib = (n: number) => `${Math.round(n / 1024 / 1024)} MiB`;

function driverOf(o: StoredObject): StorageDriver {
  return o.kind === 'Secret' ? 'secret' : 'configmap';
}

/** Helm's labels identify a record; anything else under our selector is not one of Helm's. */
export function checkLabels(o: StoredObject): { release: string; revision: number; status: ReleaseStatus } {
  const where = `${o.kind} ${o.namespace}/${o.name}`;
  if (o.labels.owner !== 'helm') throw new NotAHelmReleaseError(`${where} is not a Helm release record (label owner is not "helm")`);
  const release = o.labels.name;
  const revision = Number(o.labels.version);
  const status = o.labels.status ?? '';
  if (!release) throw new NotAHelmReleaseError(`${where} has no "name" label`);
  if (!Number.isInteger(revision) || revision < 1) throw new NotAHelmReleaseError(`${where} has no valid "version" label`);
  if (!isReleaseStatus(status)) throw new NotAHelmReleaseError(`${where} has an unknown status label "${status}"`);
  if (o.kind === 'Secret' && o.type !== undefined && o.type !== 'helm.sh/release.v1') {
    throw new NotAHelmReleaseError(`${where} has type ${o.type}, not helm.sh/release.v1`);
  }
  return { release, revision, status };
}

function unixLabel(v: string | undefined): string | undefined {
  if (!v || !/^\d+$/.test(v)) return undefined;
  return new Date(Number(v) * 1000).toISOString();
}

/** Decode the `release` value: base64 (twice for a Secret read through the API), then gzip. */
export function decodePayload(o: Pick<StoredObject, 'kind' | 'name' | 'namespace' | 'data'>): ReleasePayload {
  const where = `${o.kind} ${o.namespace}/${o.name}`;
  const release = o.data?.release;
  if (release === undefined) throw new NotAHelmReleaseError(`${where} has no "release" data`);
  if (typeof release !== 'string') throw new NotAHelmReleaseError(`${where}: release data is not a string`);
  const tooBig = (what: string) => new NotAHelmReleaseError(`${where}: ${what} is over the ${mib(MAX_RELEASE_BYTES)} cap: not a readable Helm release`);
  // base64 only shrinks (4 characters make 3 bytes), so capping each layer's input caps its output.
  const base64Layers = o.kind === 'Secret' ? 2 : 1;
  if (release.length > MAX_RELEASE_BYTES * (4 / 3) ** base64Layers + 8) throw tooBig('release data');
  let bytes = Buffer.from(release, 'base64');
  if (o.kind === 'Secret') bytes = Buffer.from(bytes.toString('latin1'), 'base64');
  const gz = GZIP_MAGIC.every((b, i) => bytes[i] === b);
  if (!gz && bytes.length > MAX_RELEASE_BYTES) throw tooBig('the uncompressed release data');
  let json: string;
  try {
    // zlib stops inflating once the output passes the cap, so a bomb never fills memory.
    json = (gz ? gunzipSync(bytes, { maxOutputLength: MAX_RELEASE_BYTES }) : bytes).toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooBig('the decompressed release data');
    throw new NotAHelmReleaseError(`${where}: release data is not gzip: ${(err as Error).message}`);
  }
  let payload: ReleasePayload;
  try {
    payload = JSON.parse(json) as ReleasePayload;
  } catch {
    throw new NotAHelmReleaseError(`${where}: release data is not Helm release JSON`);
  }
  if (
    typeof payload !== 'object' ||
    payload === null ||
    typeof payload.name !== 'string' ||
    typeof payload.version !== 'number' ||
    typeof payload.info?.status !== 'string'
  ) {
    throw new NotAHelmReleaseError(`${where}: release JSON lacks name, version or info.status`);
  }
  return payload;
}

/** Encode a payload the way Helm does, for the object's kind (a Secret's data is base64 again). */
export function encodePayload(kind: StoredObject['kind'], payload: ReleasePayload): string {
  const once = gzipSync(Buffer.from(JSON.stringify(payload), 'utf8')).toString('base64');
  return kind === 'Secret' ? Buffer.from(once, 'latin1').toString('base64') : once;
}

/**
 * The evidence for one revision: labels and object identity always; chart, description and
 * timestamps when the payload was read. Values, manifest and hooks are never copied out.
 */
export function toRevisionRecord(o: StoredObject): RevisionRecord {
  const { release, revision, status } = checkLabels(o);
  const rec: RevisionRecord = {
    release,
    namespace: o.namespace,
    revision,
    status,
    driver: driverOf(o),
    objectName: o.name,
    uid: o.uid,
    resourceVersion: o.resourceVersion,
  };
  const createdAt = unixLabel(o.labels.createdAt);
  const modifiedAt = unixLabel(o.labels.modifiedAt);
  if (createdAt) rec.createdAt = createdAt;
  if (modifiedAt) rec.modifiedAt = modifiedAt;
  if (o.data === undefined) return rec;

  const p = decodePayload(o);
  if (p.name !== release || p.version !== revision) {
    throw new NotAHelmReleaseError(
      `${o.kind} ${o.namespace}/${o.name}: labels say ${release} v${revision} but the payload is ${p.name} v${p.version}`,
    );
  }
  const m = p.chart?.metadata;
  if (m?.name && m.version) rec.chart = { name: m.name, version: m.version, ...(m.appVersion ? { appVersion: m.appVersion } : {}) };
  if (p.info.description) rec.description = p.info.description;
  // Helm 3 writes zero times as "0001-01-01T00:00:00Z"; Helm 4 omits them.
  const time = (t: string | undefined) => (t && !t.startsWith('0001-') ? t : undefined);
  const first = time(p.info.first_deployed);
  const last = time(p.info.last_deployed);
  if (first) rec.firstDeployed = first;
  if (last) rec.lastDeployed = last;
  return rec;
}
