import { parseDuration } from '../../decisions/duration';
import { validateNamespace, validateReleaseName } from '../../decisions/helm';
import { resolvePolicy, validateRemediationInput, watchProblems, type RemediationInput } from '../../decisions/remediation';
import { z } from '../../decisions/validation';

// The one schema the workflow, the client and the config loader share.
const good = (): RemediationInput => ({
  cluster: 'gprd-us-east1-b',
  namespace: 'gitlab',
  release: 'gitlab',
  gitlab: [{ project: 'gitlab-com/gl-infra/k8s-workloads/gitlab-com', environment: 'gprd-us-east1-b', jobPattern: '^deploy:' }],
  policy: { approvers: ['alice', 'bob'] },
  trigger: { source: 'alertmanager', by: 'fingerprint 0123abcd', fingerprint: '0123abcd', summary: 'stuck' },
});
const huge = 'x'.repeat(1_000_000);

describe('validateRemediationInput', () => {
  test('accepts a complete input, and one with every policy key set', () => {
    expect(validateRemediationInput(good())).toEqual([]);
    const full = good();
    full.driver = 'configmap';
    full.gitlab = [{ project: 42, environment: 'gstg' }];
    full.policy = {
      approvers: ['alice'],
      autoApprove: { configuredBy: 'sre-lead', reason: 'staging only' },
      escalateAfter: '1h30m',
      ciRecheckInterval: 500,
      ciMaxChecks: 3,
      minPendingAge: '0s',
      hpaTolerance: 0,
      strategy: 'mark-failed',
      ciJobTimeout: '2h',
      ciPollInterval: '500ms',
    };
    expect(validateRemediationInput(full)).toEqual([]);
  });

  const bad = (patch: Record<string, unknown>) => ({ ...good(), ...patch }) as unknown as RemediationInput;
  const policy = (patch: Record<string, unknown>) => bad({ policy: { approvers: ['alice'], ...patch } });
  test.each<[string, unknown, string[]]>([
    ['not an object', 'gitlab', ['input must be an object']],
    ['null', null, ['input must be an object']],
    ['an empty cluster', bad({ cluster: '' }), ['cluster is empty']],
    ['a cluster with a slash (it is part of the workflow id)', bad({ cluster: 'a/b' }), ['cluster "a/b" must not contain "/" or whitespace']],
    ['a cluster that is a number', bad({ cluster: 7 }), ['cluster must be a string']],
    ['a namespace with capitals', bad({ namespace: 'GitLab' }), ['namespace "GitLab" is not a valid Kubernetes namespace name']],
    ['a release name with an underscore', bad({ release: 'Bad_Name' }), ['release name "Bad_Name" is not a valid Helm release name']],
    ['a release name of 54 characters', bad({ release: 'a'.repeat(54) }), [`release name "${'a'.repeat(54)}" is longer than 53 characters`]],
    ['an unknown driver', bad({ driver: 'etcd' }), ['driver must be "secret" or "configmap", not "etcd"']],
    ['no GitLab projects', bad({ gitlab: [] }), ['gitlab must list at least one GitLab project and environment to watch (runbook step 1)']],
    ['GitLab projects missing', bad({ gitlab: undefined }), ['gitlab must list at least one GitLab project and environment to watch (runbook step 1)']],
    ['an empty project and environment', bad({ gitlab: [{ project: '', environment: '' }] }), ['gitlab[0].project must be a project path (group/name) or a numeric id', 'gitlab[0].environment is empty']],
    ['a project id that is not whole', bad({ gitlab: [{ project: 1.5, environment: 'e' }] }), ['gitlab[0].project must be a project path (group/name) or a numeric id']],
    ['a jobPattern that is not a regex', bad({ gitlab: [{ project: 1, environment: 'e', jobPattern: '(' }] }), ['gitlab[0].jobPattern "(" is not a regular expression']],
    ['no policy', bad({ policy: undefined }), ['policy is required (must list at least one approver)']],
    ['no approvers', policy({ approvers: [] }), ['policy.approvers must list at least one approver']],
    ['an empty approver', policy({ approvers: ['alice', ''] }), ['policy.approvers[1] is empty']],
    ['approvers as a string', policy({ approvers: 'alice' }), ['policy.approvers must be an array']],
    ['autoApprove without who and why', policy({ autoApprove: {} }), ['policy.autoApprove.configuredBy must be a string (it is missing)', 'policy.autoApprove.reason must be a string (it is missing)']],
    ['autoApprove configured by nobody', policy({ autoApprove: { configuredBy: '', reason: 'staging' } }), ['policy.autoApprove.configuredBy is empty']],
    ['autoApprove: true', policy({ autoApprove: true }), ['policy.autoApprove must name who configured it (configuredBy) and why (reason)']],
    ['a duration in words', policy({ escalateAfter: 'soon' }), ['policy.escalateAfter must be a duration like 30s, 5m or 1h, not "soon"']],
    ['a negative duration', policy({ minPendingAge: -1 }), ['policy.minPendingAge must be a duration like 30s, 5m or 1h, not -1']],
    ['a duration that is true', policy({ ciPollInterval: true }), ['policy.ciPollInterval must be a duration like 30s, 5m or 1h, not true']],
    ['half a check', policy({ ciMaxChecks: 0.5 }), ['policy.ciMaxChecks must be a whole number >= 1']],
    ['two and a half checks', policy({ ciMaxChecks: 2.5 }), ['policy.ciMaxChecks must be a whole number >= 1']],
    ['zero checks', policy({ ciMaxChecks: 0 }), ['policy.ciMaxChecks must be a whole number >= 1']],
    ['checks as a string', policy({ ciMaxChecks: '3' }), ['policy.ciMaxChecks must be a whole number >= 1']],
    ['a tolerance over 1', policy({ hpaTolerance: 2 }), ['policy.hpaTolerance must be between 0 and 1']],
    ['the rollback strategy', policy({ strategy: 'rollback' }), ['policy.strategy must be "delete" or "mark-failed", not "rollback"']],
    ['an unknown trigger source', bad({ trigger: { source: 'cron', by: 'x' } }), ['trigger.source must be "alertmanager", "cli" or "api", not "cron"']],
    ['a trigger nobody started', bad({ trigger: { source: 'cli', by: '' } }), ['trigger.by is empty']],
    // Hostile input: a clear, short error, never the whole value echoed back.
    ['a huge release name', bad({ release: huge }), [`release name "${'x'.repeat(64)}…" is longer than 53 characters`]],
    ['a huge namespace', bad({ namespace: huge }), [`namespace "${'x'.repeat(64)}…" is not a valid Kubernetes namespace name`]],
    ['a huge approver', policy({ approvers: [huge] }), ['policy.approvers[0] is too long (more than 256 characters)']],
    ['a huge duration', policy({ escalateAfter: `${'1'.repeat(100000)}s` }), [`policy.escalateAfter must be a duration like 30s, 5m or 1h, not "${'1'.repeat(64)}…"`]],
    ['prototype names as values', bad({ cluster: '__proto__', namespace: 'constructor', release: 'tostring' }), []],
    ['a JSON __proto__ key in the policy', bad({ policy: JSON.parse('{"approvers":["alice"],"__proto__":{"autoApprove":{"configuredBy":"x","reason":"y"}}}') }), []],
    [
      'every problem at once, in order',
      bad({ release: 'Bad_Name', policy: { approvers: [] }, trigger: {} }),
      [
        'release name "Bad_Name" is not a valid Helm release name',
        'policy.approvers must list at least one approver',
        'trigger.source must be "alertmanager", "cli" or "api"',
        'trigger.by must be a string (it is missing)',
      ],
    ],
  ])('%s', (_w, input, problems) => {
    expect(validateRemediationInput(input as RemediationInput)).toEqual(problems);
  });

  test('the same rules answer for one GitLab list and for one name (activities use them)', () => {
    expect(watchProblems([{ project: 1, environment: '' }])).toEqual(['gitlab[0].environment is empty']);
    expect(watchProblems([])).toEqual(['gitlab must list at least one GitLab project and environment to watch (runbook step 1)']);
    expect(validateReleaseName('')).toBe('release name is empty');
    expect(validateReleaseName('a.b-c')).toBeUndefined();
    expect(validateNamespace('')).toBe('namespace is empty');
    expect(validateNamespace('a'.repeat(64))).toMatch(/is not a valid Kubernetes namespace name/);
  });
});

test('zod is told to generate no code (the workflow sandbox runs these schemas)', () => {
  expect(z.config().jitless).toBe(true);
});

describe('resolvePolicy', () => {
  test('fills the defaults and turns durations into milliseconds', () => {
    expect(resolvePolicy({ approvers: ['alice'] })).toEqual({
      approvers: ['alice'],
      ciMaxChecks: 10,
      hpaTolerance: 0.1,
      strategy: 'delete',
      escalateAfterMs: 15 * 60_000,
      ciRecheckIntervalMs: 60_000,
      minPendingAgeMs: 5 * 60_000,
      ciJobTimeoutMs: 30 * 60_000,
      ciPollIntervalMs: 10_000,
    });
  });

  test('keeps what is set, and a key set to undefined takes the default', () => {
    const p = resolvePolicy({ approvers: ['a'], autoApprove: { configuredBy: 'x', reason: 'y' }, minPendingAge: '0s', escalateAfter: undefined, ciPollInterval: 250, strategy: 'mark-failed', ciMaxChecks: 2, hpaTolerance: 0 });
    expect(p).toMatchObject({ autoApprove: { configuredBy: 'x', reason: 'y' }, minPendingAgeMs: 0, escalateAfterMs: 900_000, ciPollIntervalMs: 250, strategy: 'mark-failed', ciMaxChecks: 2, hpaTolerance: 0 });
  });

  test('refuses a policy that was not validated', () => {
    expect(() => resolvePolicy({ approvers: ['a'], escalateAfter: 'soon' })).toThrow(/invalid policy: escalateAfter must be a duration/);
  });
});

describe('parseDuration', () => {
  test.each<[string | number, number | undefined]>([
    ['500ms', 500],
    ['30s', 30_000],
    [' 5m ', 300_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['2d', 172_800_000],
    [0, 0],
    [250, 250],
    ['', undefined],
    ['5', undefined],
    ['5 m', undefined],
    ['-5m', undefined],
    [-1, undefined],
    [Number.NaN, undefined],
    [Number.POSITIVE_INFINITY, undefined],
    [`${'1'.repeat(100)}s`, undefined],
  ])('%j → %j', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
});
