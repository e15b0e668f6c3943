import { createHash } from 'node:crypto';
import { backupDigest, canonicalBackup, judgeBackupDigest, type BackedUpRecord, type DigestCheck } from '../../decisions/backup-digest';

const record: BackedUpRecord = {
  kind: 'Secret',
  namespace: 'gitlab',
  name: 'sh.helm.release.v1.web.v3',
  type: 'helm.sh/release.v1',
  labels: { name: 'web', owner: 'helm', status: 'pending-upgrade', version: '3' },
  annotations: { note: 'x' },
  data: { release: 'SDRzSUFBQUFBQUFBLzJ4...' },
};
const D = backupDigest(record);

describe('the digest covers exactly what a restore writes', () => {
  test('sha256 of the canonical form, as any SHA-256 computes it', () => {
    expect(D).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(D).toBe(`sha256:${createHash('sha256').update(canonicalBackup(record)).digest('hex')}`);
  });

  test('key order does not matter, at any level', () => {
    const reordered: BackedUpRecord = {
      data: { ...record.data },
      annotations: { note: 'x' },
      labels: { version: '3', status: 'pending-upgrade', owner: 'helm', name: 'web' },
      type: record.type!,
      name: record.name,
      namespace: record.namespace,
      kind: record.kind,
    };
    expect(backupDigest(reordered)).toBe(D);
  });

  test('no annotations and empty annotations are the same record (a restore writes none for either)', () => {
    const { annotations: _, ...without } = record;
    expect(backupDigest(without)).toBe(backupDigest({ ...record, annotations: {} }));
  });

  // One row per thing a rewrite could change: each changes the digest.
  test.each<[string, Partial<BackedUpRecord>]>([
    ['the payload', { data: { release: 'SDRzSUFBQUFBQUFBLzJ5...' } }],
    ['another data key', { data: { ...record.data, extra: 'eA==' } }],
    ['a label', { labels: { ...record.labels, status: 'deployed' } }],
    ['a label added', { labels: { ...record.labels, extra: '' } }],
    ['an annotation', { annotations: { note: 'y' } }],
    ['the name', { name: 'sh.helm.release.v1.web.v4' }],
    ['the type', { type: 'Opaque' }],
    ['no type', { type: undefined }],
    ['the namespace', { namespace: 'other' }],
    ['the kind', { kind: 'ConfigMap' }],
    // A value moved across the boundary between two fields must not hash the same.
    ['a key and value swapped into another map', { labels: { ...record.labels, note: 'x' }, annotations: {} }],
  ])('%s', (_what, change) => {
    const changed = { ...record, ...change } as BackedUpRecord;
    if (change.type === undefined && 'type' in change) delete changed.type;
    expect(backupDigest(changed)).not.toBe(D);
  });
});

describe('whether a backup may be restored', () => {
  const OTHER = 'sha256:' + 'f'.repeat(64);
  const base: DigestCheck = { computed: D, annotated: D, history: { digest: D }, allowUndigested: false };
  // One row per situation an operator meets.
  const table: { name: string; c: Partial<DigestCheck>; ok: boolean; says: RegExp }[] = [
    { name: 'a genuine backup: contents, annotation and history agree', c: {}, ok: true, says: /matches the incident's history/ },
    { name: 'data rewritten, annotation left as it was', c: { computed: OTHER }, ok: false, says: /rewritten since it was taken: its contents hash to sha256:f+, its digest annotation says sha256:[0-9a-f]{64}/ },
    { name: 'data rewritten and the annotation made to match: the history still knows', c: { computed: OTHER, annotated: OTHER }, ok: false, says: /not the backup the incident took: .* the incident's history recorded/ },
    { name: 'the history read but the annotation stripped: contents match the history, restored', c: { annotated: undefined }, ok: true, says: /matches the incident's history/ },
    { name: 'the history not read (--without-history): its own annotation only', c: { history: 'not-read' }, ok: true, says: /matches its own annotation \(the incident's history was not read\)/ },
    { name: 'the history not read, data rewritten', c: { history: 'not-read', computed: OTHER }, ok: false, says: /rewritten since it was taken/ },
    { name: 'made before digests: refused by default', c: { annotated: undefined, history: 'recorded-without-digest' }, ok: false, says: /made before backups carried a digest.*--allow-undigested/ },
    { name: 'made before digests, the operator vouches for it', c: { annotated: undefined, history: 'recorded-without-digest', allowUndigested: true }, ok: true, says: /made before digests/ },
    { name: 'no digest and the history not read: refused by default', c: { annotated: undefined, history: 'not-read' }, ok: false, says: /--allow-undigested/ },
    { name: 'no digest, history not read, the operator vouches for it', c: { annotated: undefined, history: 'not-read', allowUndigested: true }, ok: true, says: /on the operator's word/ },
    { name: 'a digest on a backup whose incident recorded none: not that incident\'s backup', c: { history: 'recorded-without-digest' }, ok: false, says: /the incident that took it recorded none/ },
    { name: '--allow-undigested does not let a mismatch through', c: { computed: OTHER, allowUndigested: true }, ok: false, says: /rewritten since it was taken/ },
  ];

  test.each(table)('$name', ({ c, ok, says }) => {
    const v = judgeBackupDigest({ ...base, ...c });
    expect(v.ok).toBe(ok);
    expect('detail' in v ? v.detail : v.reason).toMatch(says);
  });
});
