// What the interrupted upgrade already applied, and what the roll-forward changed: tables over
// objects as a chart renders them and as the API server returns them (server defaults, status,
// managedFields and Helm's own annotations included).
import {
  intendedRevision,
  judgeApplied,
  judgeDriftBeforeRerun,
  judgeObject,
  judgeRollForwardChange,
  matches,
  pairObjects,
  toBase64,
  type KubeObject,
  type LiveObject,
  type LiveRead,
} from '../../decisions/live-objects';

const deployment = (tag: string): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', labels: { app: 'web' } },
  spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: `tiny:${tag}` }] } } },
});

/** As the API server returns it: defaults, status, managedFields, Helm's annotations. */
const live = (desired: KubeObject, o: { uid?: string; rv?: string; generation?: number } = {}): KubeObject => {
  const d = structuredClone(desired) as { metadata: Record<string, unknown>; spec?: { template?: { spec?: { containers?: Record<string, unknown>[] } } } };
  for (const c of d.spec?.template?.spec?.containers ?? []) Object.assign(c, { imagePullPolicy: 'IfNotPresent', terminationMessagePath: '/dev/termination-log', resources: {} });
  return {
    ...d,
    metadata: {
      ...d.metadata,
      namespace: 'app',
      uid: o.uid ?? 'uid-web',
      resourceVersion: o.rv ?? '100',
      generation: o.generation ?? 1,
      creationTimestamp: '2026-11-24T10:00:00Z',
      annotations: { 'meta.helm.sh/release-name': 'web', 'meta.helm.sh/release-namespace': 'app' },
      managedFields: [{ manager: 'helm', operation: 'Update' }],
    },
    status: { replicas: 2, updatedReplicas: 2 },
  };
};

const secret = (token: string): KubeObject => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'token' }, type: 'Opaque', stringData: { token } });
const liveSecret = (token: string, rv = '7'): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'token', namespace: 'app', uid: 'uid-token', resourceVersion: rv },
  type: 'Opaque',
  data: { token: toBase64(token) },
});

const present = (object: KubeObject): LiveRead => ({ state: 'present', object });
const ABSENT: LiveRead = { state: 'absent' };

describe('matches: the fields the chart sets, nothing else', () => {
  test.each([
    { name: 'server defaults, status, managedFields and Helm annotations do not count', desired: deployment('2'), live: live(deployment('2')), want: true },
    { name: 'a different image does', desired: deployment('2'), live: live(deployment('1')), want: false },
    { name: 'a Secret’s stringData matches its data', desired: secret('s3cr3t'), live: liveSecret('s3cr3t'), want: true },
    { name: 'a Secret with another value does not', desired: secret('s3cr3t'), live: liveSecret('other'), want: false },
    { name: 'non-ASCII stringData is base64 of its UTF-8', desired: secret('naïve ✓'), live: { ...liveSecret(''), data: { token: Buffer.from('naïve ✓').toString('base64') } }, want: true },
  ])('$name', ({ desired, live: l, want }) => {
    expect(matches(desired, l)).toBe(want);
  });
});

describe('judgeObject: the live object against the pending and the last deployed revision', () => {
  const pair = (pending?: KubeObject, deployed?: KubeObject) => pairObjects(pending ? [pending] : [], deployed ? [deployed] : [], 'app')[0]!;
  test.each([
    { name: 'as the pending revision wants it: applied', p: deployment('2'), d: deployment('1'), l: present(live(deployment('2'))), verdict: 'applied', changed: true },
    { name: 'as the last deployed revision left it: not applied', p: deployment('2'), d: deployment('1'), l: present(live(deployment('1'))), verdict: 'not-applied', changed: true },
    { name: 'both revisions want it the same: unchanged', p: secret('x'), d: secret('x'), l: present(liveSecret('x')), verdict: 'unchanged', changed: false },
    { name: 'as neither wants it: drift', p: deployment('2'), d: deployment('1'), l: present(live(deployment('3'))), verdict: 'drift', changed: true },
    { name: 'both want it, it is gone: missing', p: deployment('2'), d: deployment('1'), l: ABSENT, verdict: 'missing', changed: true },
    { name: 'new in the pending revision, not there yet: not applied', p: deployment('2'), d: undefined, l: ABSENT, verdict: 'not-applied', changed: true },
    { name: 'removed by the pending revision, gone: applied', p: undefined, d: deployment('1'), l: ABSENT, verdict: 'applied', changed: true },
    { name: 'forbidden: unreadable, saying why', p: deployment('2'), d: deployment('1'), l: { state: 'unreadable', error: 'forbidden' } as LiveRead, verdict: 'unreadable', changed: true },
  ])('$name', ({ p, d, l, verdict, changed }) => {
    expect(judgeObject(pair(p, d), l)).toMatchObject({ kind: (p ?? d)!.kind, namespace: 'app', verdict, changedByPending: changed });
  });

  test('identity and a digest for the roll-forward, never a digest of a Secret', () => {
    const web = judgeObject(pair(deployment('2'), deployment('1')), present(live(deployment('2'), { uid: 'u1', rv: '5', generation: 3 })));
    expect(web).toMatchObject({ uid: 'u1', resourceVersion: '5', generation: 3, digest: expect.stringMatching(/^[0-9a-f]{16}$/) });
    const token = judgeObject(pair(secret('x'), secret('x')), present(liveSecret('x')));
    expect(token.uid).toBe('uid-token');
    expect(token.digest).toBeUndefined();
    expect(JSON.stringify(token)).not.toContain(toBase64('x'));
  });
});

const obj = (name: string, verdict: LiveObject['verdict'], changedByPending = true, extra: Partial<LiveObject> = {}): LiveObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  namespace: 'app',
  name,
  verdict,
  changedByPending,
  ...(verdict === 'missing' || verdict === 'unreadable' ? {} : { uid: `uid-${name}`, resourceVersion: '1', generation: 1, digest: `d-${name}-${verdict}` }),
  ...extra,
});

describe('judgeApplied: in an SRE’s words', () => {
  test.each([
    { name: 'all applied (stuck during --wait)', objs: [obj('a', 'applied'), obj('b', 'applied'), obj('c', 'applied'), obj('s', 'unchanged', false)], want: /^the interrupted upgrade already applied 3 of 3 objects \(Deployment app\/a, Deployment app\/b, Deployment app\/c\): after the unlock the next deploy may report these as changes but should change nothing$/ },
    { name: 'none applied (a hook that never finished)', objs: [obj('a', 'not-applied'), obj('b', 'not-applied'), obj('c', 'not-applied')], want: /^the interrupted upgrade applied 0 of 3 objects: the next deploy will change these 3 \(Deployment app\/a, Deployment app\/b, Deployment app\/c\)$/ },
    { name: 'partly applied', objs: [obj('a', 'applied'), obj('b', 'not-applied')], want: /^the interrupted upgrade applied 1 of 2 objects \(Deployment app\/a\): the next deploy will change Deployment app\/b$/ },
    { name: 'nothing to change', objs: [obj('s', 'unchanged', false)], want: /^revision 3 changes no object compared with revision 2/ },
    { name: 'drift, missing and a forbidden read are said too', objs: [obj('a', 'applied'), obj('d', 'drift'), obj('m', 'missing'), obj('f', 'unreadable', true, { error: 'forbidden' })], want: /applied 1 of 4 objects \(Deployment app\/a\); 1 match neither revision \(drift\): Deployment app\/d; 1 are missing: Deployment app\/m; could not read Deployment app\/f \(forbidden\)$/ },
  ])('$name', ({ objs, want }) => {
    expect(judgeApplied(objs, 3, 2).summary).toMatch(want);
  });

  test('a first install compares with nothing', () => {
    expect(judgeApplied([obj('s', 'unchanged', false)], 1, undefined).summary).toMatch(/compared with a first install/);
  });
});

describe('judgeRollForwardChange: the cluster before and after the re-run', () => {
  const moved = (o: LiveObject, to: LiveObject['verdict'], extra: Partial<LiveObject> = {}) => ({ ...o, verdict: to, resourceVersion: '2', generation: 2, digest: `d-${o.name}-${to}`, ...extra });
  const a = obj('a', 'applied');
  const n = obj('b', 'not-applied');
  test.each<{ name: string; before: LiveObject[]; after: LiveObject[]; want: string; says: RegExp }>([
    { name: 'nothing changed', before: [a, obj('s', 'unchanged', false)], after: [a, obj('s', 'unchanged', false)], want: 'nothing', says: /changed no object of the release \(2 compared\)$/ },
    { name: 'a status write moves resourceVersion, not the digest: nothing changed', before: [a], after: [{ ...a, resourceVersion: '99' }], want: 'nothing', says: /changed no object/ },
    { name: 'a Secret (no digest) rewritten: changed', before: [obj('s', 'unchanged', false, { digest: undefined })], after: [obj('s', 'drift', false, { digest: undefined, resourceVersion: '2' })], want: 'unexpected', says: /Deployment app\/s \(now as neither revision wants it\)/ },
    { name: 'nothing changed, but the upgrade was not applied: says so', before: [n], after: [n], want: 'nothing', says: /Deployment app\/b still is as the last deployed revision left it/ },
    { name: 'exactly the pending revision’s change: completed', before: [a, n], after: [a, moved(n, 'applied')], want: 'completed', says: /completed the interrupted upgrade: it changed exactly Deployment app\/b, as the pending revision intended/ },
    { name: 'deployed beyond the pending revision: unexpected, listed', before: [a, n], after: [moved(a, 'drift'), moved(n, 'applied')], want: 'unexpected', says: /changed 2 object\(s\) beyond the interrupted upgrade's intent: Deployment app\/a \(now as neither revision wants it\)$/ },
    { name: 'an applied object changed again: unexpected', before: [a], after: [moved(a, 'applied')], want: 'unexpected', says: /Deployment app\/a \(now applied\)/ },
    { name: 'recreated (new uid): changed', before: [a], after: [{ ...a, uid: 'new' }], want: 'unexpected', says: /Deployment app\/a/ },
    { name: 'unreadable both times, nothing else: the cluster cannot tell', before: [obj('f', 'unreadable')], after: [obj('f', 'unreadable')], want: 'unknown', says: /could not read Deployment app\/f/ },
    { name: 'one unreadable among readable ones: judged on the rest, saying so', before: [a, obj('f', 'unreadable')], after: [a, obj('f', 'unreadable')], want: 'nothing', says: /\(1 compared\); could not read Deployment app\/f/ },
    // Someone's own deploy or edit before the re-run (drift), then undone by it: never "completed".
    { name: 'drift before, as the pending revision wants it after: overwrote, not completed', before: [obj('b', 'drift')], after: [moved(obj('b', 'drift'), 'applied')], want: 'overwrote', says: /^the re-run overwrote changes made outside both revisions: Deployment app\/b \(as neither revision wanted it before the re-run, since when unknown; now applied\)$/ },
    { name: 'drift before, drift of another kind after: overwrote', before: [obj('b', 'drift')], after: [moved(obj('b', 'drift'), 'drift', { digest: 'other' })], want: 'overwrote', says: /Deployment app\/b \(as neither revision wanted it before the re-run, since when unknown; now as neither revision wants it\)$/ },
    { name: 'drift overwritten beside the upgrade completed: overwrote, the completed object not counted as it', before: [obj('d', 'drift'), n], after: [moved(obj('d', 'drift'), 'applied'), moved(n, 'applied')], want: 'overwrote', says: /overwrote changes made outside both revisions: Deployment app\/d \(.*\)$/ },
    { name: 'drift overwritten and more than the pending revision: both said', before: [obj('d', 'drift'), a], after: [moved(obj('d', 'drift'), 'applied'), moved(a, 'drift')], want: 'overwrote', says: /Deployment app\/d .*; it also changed 1 object\(s\) beyond the interrupted upgrade's intent: Deployment app\/a \(now as neither revision wants it\)$/ },
    { name: 'drift the re-run left alone: nothing changed, the drift said', before: [a, obj('d', 'drift')], after: [a, obj('d', 'drift')], want: 'nothing', says: /changed no object of the release \(2 compared\); Deployment app\/d still is as neither revision wants it$/ },
    { name: 'drift left alone beside the upgrade completed: completed, the drift said', before: [n, obj('d', 'drift')], after: [moved(n, 'applied'), obj('d', 'drift')], want: 'completed', says: /changed exactly Deployment app\/b, as the pending revision intended; Deployment app\/d still is as neither revision wants it$/ },
  ])('$name', ({ before, after, want, says }) => {
    const c = judgeRollForwardChange(before, after);
    expect(c.change).toBe(want);
    expect(c.summary).toMatch(says);
  });

  test('an overwritten object says when it drifted, from the drift seen before the re-run', () => {
    const d = obj('b', 'drift');
    const drift = judgeDriftBeforeRerun([d], [{ kind: 'Deployment', namespace: 'app', name: 'b', verdict: 'applied' }]);
    expect(judgeRollForwardChange([d], [moved(d, 'applied')], drift).summary).toBe(
      'the re-run overwrote changes made outside both revisions: Deployment app/b (as neither revision wanted it before the re-run, changed after approval was asked, when it was applied; now applied)',
    );
  });
});

describe('judgeDriftBeforeRerun: objects someone changed before the re-run', () => {
  const seen = (name: string, verdict: LiveObject['verdict']) => ({ kind: 'Deployment', namespace: 'app', name, verdict });
  test.each<{ name: string; before: LiveObject[]; atApproval?: ReturnType<typeof seen>[]; want: string | undefined }>([
    { name: 'no drift: nothing to write down', before: [obj('a', 'applied'), obj('b', 'not-applied'), obj('s', 'unchanged', false)], atApproval: [seen('a', 'applied')], want: undefined },
    { name: 'missing or unreadable is not drift', before: [obj('m', 'missing'), obj('f', 'unreadable')], want: undefined },
    {
      name: 'applied when approval was asked, drift now: changed during the incident',
      before: [obj('a', 'drift'), obj('b', 'applied')],
      atApproval: [seen('a', 'applied'), seen('b', 'applied')],
      want: "before the re-run, 1 object(s) were as neither revision wants them (someone's own deploy or edit?): Deployment app/a (changed after approval was asked, when it was applied); the re-run may overwrite them",
    },
    {
      name: 'drift already when approval was asked: said so',
      before: [obj('a', 'drift')],
      atApproval: [seen('a', 'drift')],
      want: "before the re-run, 1 object(s) were as neither revision wants them (someone's own deploy or edit?): Deployment app/a (already so when approval was asked); the re-run may overwrite them",
    },
    {
      name: 'nothing shown at approval (the read failed): since when unknown',
      before: [obj('a', 'drift'), obj('c', 'drift')],
      atApproval: undefined,
      want: "before the re-run, 2 object(s) were as neither revision wants them (someone's own deploy or edit?): Deployment app/a (since when unknown), Deployment app/c (since when unknown); the re-run may overwrite them",
    },
  ])('$name', ({ before, atApproval, want }) => {
    expect(judgeDriftBeforeRerun(before, atApproval)?.summary).toBe(want);
  });

  test('past ten objects the rest are counted', () => {
    const many = Array.from({ length: 12 }, (_, i) => obj(`d${i}`, 'drift'));
    expect(judgeDriftBeforeRerun(many, [])?.summary).toMatch(/Deployment app\/d9 \(since when unknown\) and 2 more; the re-run may overwrite them$/);
  });
});

test('intendedRevision: the pending upgrade under a stacked pending rollback', () => {
  const pending = [
    { revision: 4, status: 'pending-rollback' },
    { revision: 3, status: 'pending-upgrade' },
  ];
  expect(intendedRevision({ pending })?.revision).toBe(3);
  expect(intendedRevision({ pending: [pending[0]!] })?.revision).toBe(4);
});
