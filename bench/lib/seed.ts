// Helm release records at scale, written straight into the API server in Helm's exact storage
// format (labels, base64(gzip(JSON)), Secret type): helm itself lists and reads them, so they are
// as real as records helm wrote, without running 5,000 helm upgrades.
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import * as k8s from '@kubernetes/client-node';

/** A deterministic pseudo-random generator, so every run seeds the same bytes. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const WORDS = ['replicas', 'image', 'tag', 'resources', 'limits', 'memory', 'cpu', 'requests', 'env', 'name', 'value',
  'port', 'containerPort', 'livenessProbe', 'readinessProbe', 'httpGet', 'path', 'volumeMounts', 'mountPath', 'labels',
  'annotations', 'checksum/config', 'app.kubernetes.io/name', 'gitlab', 'webservice', 'sidekiq', 'registry', 'workhorse'];

/** YAML text of about `bytes` characters: compresses roughly as real manifests do. */
function manifestText(rand: () => number, bytes: number): string {
  const lines: string[] = [];
  let n = 0;
  while (n < bytes) {
    const depth = Math.floor(rand() * 5);
    const key = WORDS[Math.floor(rand() * WORDS.length)]!;
    const val = rand() < 0.3 ? randomHex(rand, 16 + Math.floor(rand() * 48)) : WORDS[Math.floor(rand() * WORDS.length)]!;
    const line = `${'  '.repeat(depth)}${key}: ${val}`;
    lines.push(line);
    n += line.length + 1;
  }
  return lines.join('\n');
}

/**
 * A rendered release as Helm stores it: ConfigMaps of about `bytes` characters in all, each a
 * YAML document that parses (step 6 reads every object the manifest names).
 */
function renderedManifest(rand: () => number, bytes: number, release: string, namespace: string): string {
  const docs: string[] = [];
  for (let i = 0, n = 0; n < bytes; i++) {
    const data = manifestText(rand, 1500)
      .split('\n')
      .map((l, j) => `  ${l.trim().replace(/[^A-Za-z0-9.]/g, '-')}-${j}: "${l.trim().replace(/["\\]/g, '')}"`)
      .join('\n');
    const doc = `---\n# Source: gitlab/templates/part-${i}.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${release}-part-${i}\n  namespace: ${namespace}\ndata:\n${data}`;
    docs.push(doc);
    n += doc.length + 1;
  }
  return docs.join('\n');
}

function randomHex(rand: () => number, len: number): string {
  let s = '';
  while (s.length < len) s += Math.floor(rand() * 0xffffffff).toString(16).padStart(8, '0');
  return s.slice(0, len);
}

export interface SeedOptions {
  namespaces: number;
  releasesPerNamespace: number;
  revisions: number;
  /** Uncompressed size of each revision's manifest and templates, in characters. */
  payloadChars: number;
  /** How many releases get a pending-upgrade newest revision. */
  stuck: number;
  concurrency?: number;
}

export interface Seeded {
  namespaces: string[];
  releases: number;
  records: number;
  stuck: { namespace: string; release: string; revision: number }[];
  /** Mean bytes of one record's `release` value as stored (base64(gzip(JSON))). */
  meanRecordBytes: number;
}

export async function seedReleases(kc: k8s.KubeConfig, o: SeedOptions): Promise<Seeded> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const prefix = `bench-${randomBytes(2).toString('hex')}`;
  const namespaces = Array.from({ length: o.namespaces }, (_, i) => `${prefix}-${i}`);
  for (const name of namespaces) await core.createNamespace({ body: { metadata: { name } } });

  const jobs: (() => Promise<number>)[] = [];
  const stuck: Seeded['stuck'] = [];
  let releaseIndex = 0;
  for (const namespace of namespaces) {
    for (let r = 0; r < o.releasesPerNamespace; r++, releaseIndex++) {
      const release = `app-${r}`;
      const every = Math.max(1, Math.floor((o.namespaces * o.releasesPerNamespace) / o.stuck));
      const isStuck = releaseIndex % every === 0 && stuck.length < o.stuck;
      if (isStuck) stuck.push({ namespace, release, revision: o.revisions });
      for (let v = 1; v <= o.revisions; v++) {
        const status = v < o.revisions ? 'superseded' : isStuck ? 'pending-upgrade' : 'deployed';
        const finalStatus = isStuck && v === o.revisions - 1 ? 'deployed' : status;
        jobs.push(() => createRecord(core, namespace, release, v, finalStatus, o.payloadChars, releaseIndex * 100 + v));
      }
    }
  }
  let next = 0;
  let bytes = 0;
  await Promise.all(
    Array.from({ length: o.concurrency ?? 16 }, async () => {
      while (next < jobs.length) {
        const written = await jobs[next++]!();
        bytes += written;
      }
    }),
  );
  return { namespaces, releases: releaseIndex, records: jobs.length, stuck, meanRecordBytes: Math.round(bytes / jobs.length) };
}

async function createRecord(
  core: k8s.CoreV1Api,
  namespace: string,
  release: string,
  version: number,
  status: string,
  payloadChars: number,
  seed: number,
): Promise<number> {
  const rand = prng(seed);
  const t = new Date(Date.UTC(2026, 10, 1) + seed * 60_000).toISOString();
  const templates = Array.from({ length: 6 }, (_, i) => ({
    name: `templates/part-${i}.yaml`,
    data: Buffer.from(manifestText(rand, payloadChars / 12)).toString('base64'),
  }));
  const payload = {
    name: release,
    namespace,
    version,
    info: { first_deployed: t, last_deployed: t, deleted: '', description: status === 'pending-upgrade' ? 'Preparing upgrade' : 'Upgrade complete', status },
    chart: { metadata: { name: 'gitlab', version: `9.${version}.0`, appVersion: `18.${version}.0`, apiVersion: 'v2' }, templates, values: {} },
    config: { global: { hosts: { domain: 'example.invalid' } }, secret: randomHex(rand, 32) },
    manifest: renderedManifest(rand, payloadChars / 2, release, namespace),
  };
  const value = gzipSync(Buffer.from(JSON.stringify(payload))).toString('base64');
  const created = String(Math.floor(Date.parse(t) / 1000));
  await core.createNamespacedSecret({
    namespace,
    body: {
      metadata: {
        name: `sh.helm.release.v1.${release}.v${version}`,
        labels: { name: release, owner: 'helm', status, version: String(version), createdAt: created },
      },
      type: 'helm.sh/release.v1',
      // The API base64-encodes Secret data; Helm's value is itself base64 text.
      data: { release: Buffer.from(value).toString('base64') },
    },
  });
  return value.length;
}
