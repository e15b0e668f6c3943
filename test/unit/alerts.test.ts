import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { alertTarget, parseAlertmanagerPayload, type AlertmanagerPayload } from '../../decisions/alerts';

// Alertmanager's payloads, copied into the repository from the project's brief (../shared/fixtures/alertmanager)
// so a clone needs nothing beside it.
const fixture = (n: string) => JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'alertmanager', n), 'utf8')) as unknown;
const parsed = (n: string) => {
  const r = parseAlertmanagerPayload(fixture(n));
  if (!('payload' in r)) throw new Error(r.problems.join('; '));
  return r.payload;
};

describe('parseAlertmanagerPayload', () => {
  test.each(['firing-one-release.json', 'firing-many-releases.json', 'resolved-one-release.json'])('accepts %s', (n) => {
    expect(parsed(n).version).toBe('4');
  });

  const good = () => JSON.parse(JSON.stringify(fixture('firing-one-release.json'))) as Record<string, unknown> & AlertmanagerPayload;
  test.each([
    ['not an object', [], /body must be a JSON object/],
    ['version 3', { ...good(), version: '3' }, /version must be "4"/],
    ['no alerts', { ...good(), alerts: undefined }, /alerts must be an array/],
    ['empty alerts', { ...good(), alerts: [] }, /alerts is empty/],
    ['a label that is a number', { ...good(), alerts: [{ ...good().alerts[0], labels: { alertname: 7 } }] }, /alerts\[0\]\.labels\.alertname must be a string/],
    ['a bad time', { ...good(), alerts: [{ ...good().alerts[0], startsAt: 'yesterday' }] }, /startsAt is not an RFC 3339 time/],
    ['a non-hex fingerprint', { ...good(), alerts: [{ ...good().alerts[0], fingerprint: '<script>' }] }, /fingerprint must be hexadecimal/],
    ['an empty fingerprint', { ...good(), alerts: [{ ...good().alerts[0], fingerprint: '' }] }, /fingerprint must be hexadecimal/],
    ['a bad status', { ...good(), status: 'maybe' }, /status must be "firing" or "resolved"/],
    ['a huge label', { ...good(), commonLabels: { a: 'x'.repeat(5000) } }, /commonLabels\.a is too long/],
    // Hostile rows: wrong types, floods, prototype keys.
    ['version 4 as a number', { ...good(), version: 4 }, /^version must be "4" \(Alertmanager webhook version 4\), not 4$/],
    ['null', null, /body must be a JSON object/],
    ['alerts as an object', { ...good(), alerts: {} }, /^alerts must be an array$/],
    ['an alert that is a string', { ...good(), alerts: ['x'] }, /^alerts\[0\] must be an object$/],
    ['labels as a list', { ...good(), alerts: [{ ...good().alerts[0], labels: ['a'] }] }, /alerts\[0\]\.labels must be a mapping/],
    ['a negative truncatedAlerts', { ...good(), truncatedAlerts: -1 }, /truncatedAlerts must be a whole number/],
    ['a fractional truncatedAlerts', { ...good(), truncatedAlerts: 0.5 }, /truncatedAlerts must be a whole number/],
    ['a huge label name', { ...good(), groupLabels: { ['k'.repeat(300)]: 'v' } }, /groupLabels\.k{64}… is not a valid name: is too long/],
    ['129 labels on one alert', { ...good(), alerts: [{ ...good().alerts[0], labels: Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`l${i}`, 'v'])) }] }, /^alerts\[0\]\.labels has more than 128 entries$/],
    ['129 common annotations', { ...good(), commonAnnotations: Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`a${i}`, 'v'])) }, /^commonAnnotations has more than 128 entries$/],
    ['a huge receiver', { ...good(), receiver: 'r'.repeat(10_000) }, /^receiver is too long \(more than 4096 characters\)$/],
    ['a fingerprint of 65 hex digits', { ...good(), alerts: [{ ...good().alerts[0], fingerprint: 'a'.repeat(65) }] }, /fingerprint must be hexadecimal/],
    ['1,001 things that are not alerts', { ...good(), alerts: Array.from({ length: 1001 }, () => 'not even an alert') }, /^alerts\[0\] must be an object; .*alerts\[1000\] must be an object$/],
    ['a __proto__ label (JSON keeps it as an own key)', JSON.parse(JSON.stringify(good()).replace('"labels":{', '"labels":{"__proto__":"x",')), /^alerts\[0\]\.labels\.__proto__ is not allowed as a name$/],
  ])('rejects %s', (_w, body, message) => {
    // A bad payload is refused whole; a bad alert in it is rejected alone, with its reason.
    const r = parseAlertmanagerPayload(body);
    expect('problems' in r ? r.problems.join('; ') : r.payload.unreadable.map((u) => u.reason).join('; ')).toMatch(message);
  });

  test('one bad alert is rejected alone: the rest of its group is read (issue 23: a __proto__ label made the whole payload 400)', () => {
    const body = good();
    const bad = JSON.parse(JSON.stringify(body.alerts[0]).replace('"labels":{', '"labels":{"__proto__":"x",')) as object;
    const r = parseAlertmanagerPayload({ ...body, alerts: [bad, body.alerts[0], 'not an alert'] });
    expect('payload' in r && r.payload.alerts).toEqual([body.alerts[0]]);
    expect('payload' in r && r.payload.unreadable).toEqual([
      { fingerprint: body.alerts[0]!.fingerprint, reason: 'alerts[0].labels.__proto__ is not allowed as a name' },
      { fingerprint: '(none)', reason: 'alerts[2] must be an object' },
    ]);
  });
});

test('a group of 5,000 alerts is read whole, not refused (max_alerts: 0 allows any number)', () => {
  const a = (fixture('firing-one-release.json') as AlertmanagerPayload).alerts[0]!;
  const r = parseAlertmanagerPayload({ ...(fixture('firing-one-release.json') as object), alerts: Array.from({ length: 5000 }, () => a) });
  expect('payload' in r && r.payload.alerts.length).toBe(5000);
});

describe('alertTarget', () => {
  test('maps the kube-state-metrics labels of each firing alert; the fourth alert is not ours', () => {
    const results = parsed('firing-many-releases.json').alerts.map((a) => alertTarget(a));
    expect(results.map((r) => ('target' in r ? `${r.target.cluster}/${r.target.namespace}/${r.target.release}@${r.target.revision}` : r.reason))).toEqual([
      'gprd-us-east1-b/gitlab/gitlab@1234',
      'gprd-us-east1-c/gitlab/gitlab@877',
      'gstg/gitlab-cny/gitlab-cny@55',
      'alertname "KubePodCrashLooping" is not one helm-unstuck handles (HelmReleaseStuck)',
    ]);
  });

  test('a resolved alert maps too, with its end time', () => {
    const r = alertTarget(parsed('resolved-one-release.json').alerts[0]!);
    expect(r).toEqual({ target: expect.objectContaining({ status: 'resolved', release: 'gitlab', endsAt: '2026-11-24T10:12:37.456Z' }) });
  });

  const base = () => parsed('firing-one-release.json').alerts[0]!;
  test.each([
    ['no cluster label', { cluster: '' }, /label cluster \(cluster\) is missing/],
    ['a namespace with capitals', { namespace: 'GitLab' }, /not a namespace name/],
    ['a release name with a slash', { label_name: 'a/b' }, /not a Helm release name/],
    ['a revision that is not a number', { label_version: 'v2' }, /not a revision number/],
  ])('refuses %s', (_w, labels, reason) => {
    const a = base();
    a.labels = { ...a.labels, ...labels };
    expect(alertTarget(a)).toEqual({ reason: expect.stringMatching(reason) });
  });

  test('a summary of up to 1,000 characters is forwarded whole; a longer one refuses the alert, naming the annotation', () => {
    const a = base();
    a.annotations = { ...a.annotations, summary: 's'.repeat(1000) };
    expect(alertTarget(a)).toMatchObject({ target: { summary: 's'.repeat(1000) } });
    a.annotations = { ...a.annotations, summary: 's'.repeat(1001) };
    expect(alertTarget(a)).toEqual({ reason: 'annotation summary is too long (1001 characters, at most 1000)' });
  });

  test('128 labels are read', () => {
    const body = JSON.parse(JSON.stringify(fixture('firing-one-release.json'))) as AlertmanagerPayload;
    body.alerts[0]!.labels = { ...body.alerts[0]!.labels, ...Object.fromEntries(Array.from({ length: 128 - Object.keys(body.alerts[0]!.labels).length }, (_, i) => [`l${i}`, 'v'])) };
    expect(Object.keys(body.alerts[0]!.labels)).toHaveLength(128);
    expect('payload' in parseAlertmanagerPayload(body)).toBe(true);
  });

  // A label lookup answers only for the alert's own labels: a mapping naming `constructor` or
  // `toString` finds nothing, rather than Object.prototype's functions.
  test.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])('a mapping to label %s the alert does not carry is "missing"', (label) => {
    const a = base();
    a.labels = { ...a.labels }; // a plain object, as any caller may pass: it has a prototype
    const m = { alertnames: ['HelmReleaseStuck'], labels: { cluster: label, namespace: label, release: label, revision: label } };
    expect(alertTarget(a, m)).toEqual({ reason: `label ${label} (cluster) is missing` });
  });

  test.each(['constructor', 'toString'])('an alert whose cluster is named %s maps like any other', (cluster) => {
    const a = base();
    a.labels = { ...a.labels, cluster };
    expect(alertTarget(a)).toEqual({ target: expect.objectContaining({ cluster }) });
  });

  test('a cluster label with a slash is refused (it would split the workflow id)', () => {
    const a = base();
    a.labels = { ...a.labels, cluster: 'a/b' };
    expect(alertTarget(a)).toEqual({ reason: 'label cluster (cluster): cluster "a/b" must not contain "/" or whitespace' });
  });

  test('label names are configurable', () => {
    const a = base();
    a.labels = { alertname: 'Stuck', k8s_cluster: 'c1', ns: 'n1', rel: 'r1' };
    expect(alertTarget(a, { alertnames: ['Stuck'], labels: { cluster: 'k8s_cluster', namespace: 'ns', release: 'rel', revision: 'rev' } })).toEqual({
      target: expect.objectContaining({ cluster: 'c1', namespace: 'n1', release: 'r1' }),
    });
  });
});
