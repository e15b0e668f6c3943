import { gzipSync } from 'node:zlib';
import {
  decodePayload,
  encodePayload,
  MAX_RELEASE_BYTES,
  NotAHelmReleaseError,
  toRevisionRecord,
  type ReleasePayload,
  type StoredObject,
} from '../../activities/helm-storage';

const helm3Payload: ReleasePayload = {
  name: 'gitlab',
  namespace: 'gitlab',
  version: 1235,
  info: {
    status: 'pending-upgrade',
    description: 'Preparing upgrade',
    first_deployed: '2026-01-01T00:00:00Z',
    last_deployed: '2026-11-24T09:24:07Z',
    deleted: '0001-01-01T00:00:00Z',
  },
  chart: { metadata: { name: 'gitlab', version: '9.6.1', appVersion: '18.6.1' } },
  config: { secret: 'hunter2' },
  manifest: 'kind: Secret\ndata: {password: aHVudGVyMg==}',
};
// Helm 4 omits zero timestamps instead of writing 0001-01-01.
const helm4Payload: ReleasePayload = { ...helm3Payload, info: { status: 'pending-upgrade', last_deployed: '2026-11-24T09:24:07Z' }, apply_method: 'ssa' };

function stored(kind: 'Secret' | 'ConfigMap', payload: unknown, over: Partial<StoredObject> = {}): StoredObject {
  const release =
    typeof payload === 'string' ? payload : encodePayload(kind, payload as ReleasePayload);
  return {
    kind,
    name: 'sh.helm.release.v1.gitlab.v1235',
    namespace: 'gitlab',
    uid: 'u-1',
    resourceVersion: '42',
    labels: { name: 'gitlab', owner: 'helm', status: 'pending-upgrade', version: '1235', createdAt: '1795512247' },
    ...(kind === 'Secret' ? { type: 'helm.sh/release.v1' } : {}),
    data: { release },
    ...over,
  };
}

const b64twice = (b: Buffer) => Buffer.from(b.toString('base64')).toString('base64');

describe('toRevisionRecord', () => {
  test.each([
    ['Secret', 'helm 3', helm3Payload],
    ['ConfigMap', 'helm 3', helm3Payload],
    ['Secret', 'helm 4', helm4Payload],
    ['ConfigMap', 'helm 4', helm4Payload],
  ] as const)('decodes a %s written by %s, keeping only harmless fields', (kind, _v, payload) => {
    const r = toRevisionRecord(stored(kind, payload));
    expect(r).toEqual({
      release: 'gitlab',
      namespace: 'gitlab',
      revision: 1235,
      status: 'pending-upgrade',
      driver: kind === 'Secret' ? 'secret' : 'configmap',
      objectName: 'sh.helm.release.v1.gitlab.v1235',
      uid: 'u-1',
      resourceVersion: '42',
      createdAt: '2026-11-24T09:24:07.000Z',
      chart: { name: 'gitlab', version: '9.6.1', appVersion: '18.6.1' },
      ...(payload === helm3Payload ? { description: 'Preparing upgrade', firstDeployed: '2026-01-01T00:00:00Z' } : {}),
      lastDeployed: '2026-11-24T09:24:07Z',
    });
    expect(JSON.stringify(r)).not.toMatch(/hunter2|aHVudGVyMg|"manifest"|"config"/);
  });

  test('reads labels alone when only metadata was fetched', () => {
    const { data: _data, ...meta } = stored('Secret', helm3Payload);
    expect(toRevisionRecord(meta)).toMatchObject({ revision: 1235, status: 'pending-upgrade', createdAt: '2026-11-24T09:24:07.000Z' });
    expect(toRevisionRecord(meta).chart).toBeUndefined();
  });

  test('accepts an uncompressed payload, as Helm does', () => {
    const plain = Buffer.from(Buffer.from(JSON.stringify(helm3Payload)).toString('base64')).toString('base64');
    expect(decodePayload(stored('Secret', plain)).version).toBe(1235);
  });

  test.each([
    ['no owner=helm label', stored('Secret', helm3Payload, { labels: { name: 'gitlab', status: 'deployed', version: '1' } }), /is not a Helm release record \(label owner is not "helm"\)/],
    ['no name label', stored('Secret', helm3Payload, { labels: { owner: 'helm', status: 'deployed', version: '1' } }), /has no "name" label/],
    ['a non-numeric version', stored('Secret', helm3Payload, { labels: { owner: 'helm', name: 'gitlab', status: 'deployed', version: 'x' } }), /has no valid "version" label/],
    ['an unknown status', stored('Secret', helm3Payload, { labels: { owner: 'helm', name: 'gitlab', status: 'stuck', version: '1235' } }), /unknown status label "stuck"/],
    ['the wrong Secret type', stored('Secret', helm3Payload, { type: 'Opaque' }), /has type Opaque, not helm.sh\/release.v1/],
    ['no release data', stored('Secret', helm3Payload, { data: {} }), /has no "release" data/],
    ['data that is not gzip or JSON', stored('Secret', b64twice(Buffer.from('hello'))), /not Helm release JSON/],
    ['a truncated gzip', stored('Secret', b64twice(gzipSync('{"name":"gitlab"}').subarray(0, 12))), /release data is not gzip/],
    ['JSON that is not a release', stored('Secret', b64twice(gzipSync('{"kind":"Deployment"}'))), /lacks name, version or info.status/],
    ['a payload for another revision', stored('Secret', { ...helm3Payload, version: 7 }), /labels say gitlab v1235 but the payload is gitlab v7/],
  ])('rejects %s with a clear error', (_what, obj, message) => {
    expect(() => toRevisionRecord(obj)).toThrow(NotAHelmReleaseError);
    expect(() => toRevisionRecord(obj)).toThrow(message);
  });

  describe('hostile payloads: decompressed size capped at MAX_RELEASE_BYTES', () => {
    // A release padded to `size` bytes of JSON: valid, so only its size can make it unreadable.
    const padded = (size: number) => {
      const json = JSON.stringify({ ...helm3Payload, manifest: '' });
      return Buffer.from(json.replace('"manifest":""', `"manifest":"${' '.repeat(size - json.length)}"`));
    };
    const cap = /over the 32 MiB cap: not a readable Helm release/;

    test.each(['Secret', 'ConfigMap'] as const)('a %s whose gzip inflates past the cap (a gzip bomb) is not a Helm release', (kind) => {
      const bomb = gzipSync(Buffer.alloc(MAX_RELEASE_BYTES + 1024 * 1024, 0x20));
      const once = bomb.toString('base64');
      const release = kind === 'Secret' ? Buffer.from(once).toString('base64') : once;
      expect(() => toRevisionRecord(stored(kind, release))).toThrow(NotAHelmReleaseError);
      expect(() => toRevisionRecord(stored(kind, release))).toThrow(cap);
    });

    test('a release exactly at the cap is read; one byte more is not', () => {
      expect(decodePayload(stored('Secret', b64twice(gzipSync(padded(MAX_RELEASE_BYTES))))).version).toBe(1235);
      expect(() => decodePayload(stored('Secret', b64twice(gzipSync(padded(MAX_RELEASE_BYTES + 1)))))).toThrow(cap);
    });

    test('an uncompressed payload over the cap, and base64 too long to be one, are refused before decoding', () => {
      expect(() => decodePayload(stored('ConfigMap', padded(MAX_RELEASE_BYTES + 1).toString('base64')))).toThrow(/uncompressed release data is over the 32 MiB cap/);
      expect(() => decodePayload(stored('ConfigMap', 'A'.repeat(MAX_RELEASE_BYTES * 2)))).toThrow(/release data is over the 32 MiB cap/);
    });
  });
});
