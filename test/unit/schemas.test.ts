import { parseDuration } from '../../decisions/duration';
import { validateNamespace, validateReleaseName } from '../../decisions/helm';
import { checkPolicy, parseRemediationInput, resolvePolicy, validateRemediationInput, watchProblems, type PolicyConfig, type RemediationInput } from '../../decisions/schemas';
import { z } from '../../decisions/validation';

// The schemas the workflow, the client and the config loader share.
const good = (): RemediationInput => ({
  cluster: 'gprd-us-east1-b',
  namespace: 'gitlab',
  release: 'gitlab',
  trigger: { source: 'alertmanager', by: 'fingerprint 0123abcd', fingerprint: '0123abcd', summary: 'stuck' },
});
const huge = 'x'.repeat(1_000_000);
const KEY = 'A'.repeat(43); // 32 zero bytes, base64url

describe('validateRemediationInput: what the incident is about, and nothing else', () => {
  test('accepts a complete input, and one with the optional keys', () => {
    expect(validateRemediationInput(good())).toEqual([]);
    expect(validateRemediationInput({ ...good(), driver: 'configmap', revision: 1235 })).toEqual([]);
  });

  test("an older client's policy, GitLab projects or autoApprove are not refused, and not kept", () => {
    const old = { ...good(), policy: { approvers: ['mallory'], autoApprove: { configuredBy: 'x', reason: 'y' } }, gitlab: 'anything', autoApprove: true };
    expect(validateRemediationInput(old as unknown as RemediationInput)).toEqual([]);
    expect(parseRemediationInput(old)).toEqual({ data: good() });
  });

  const bad = (patch: Record<string, unknown>) => ({ ...good(), ...patch }) as unknown as RemediationInput;
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
    ['revision 0', bad({ revision: 0 }), ['revision must be at least 1']],
    ['a revision that is text', bad({ revision: '3' }), ['revision must be a number']],
    ['an unknown trigger source', bad({ trigger: { source: 'cron', by: 'x' } }), ['trigger.source must be "alertmanager", "cli" or "api", not "cron"']],
    ['a trigger nobody started', bad({ trigger: { source: 'cli', by: '' } }), ['trigger.by is empty']],
    // Hostile input: a clear, short error, never the whole value echoed back.
    ['a huge release name', bad({ release: huge }), [`release name "${'x'.repeat(64)}…" is longer than 53 characters`]],
    ['a huge namespace', bad({ namespace: huge }), [`namespace "${'x'.repeat(64)}…" is not a valid Kubernetes namespace name`]],
    ['prototype names as values', bad({ cluster: '__proto__', namespace: 'constructor', release: 'tostring' }), []],
    [
      'every problem at once, in order',
      bad({ release: 'Bad_Name', trigger: {} }),
      ['release name "Bad_Name" is not a valid Helm release name', 'trigger.source must be "alertmanager", "cli" or "api"', 'trigger.by must be a string (it is missing)'],
    ],
  ])('%s', (_w, input, problems) => {
    expect(validateRemediationInput(input as RemediationInput)).toEqual(problems);
  });
});

describe("checkPolicy: the operator's policy, defaults and a cluster's overrides", () => {
  const problems = (patch: Record<string, unknown>) => {
    const r = checkPolicy({ approvers: ['alice'], ...patch } as PolicyConfig);
    return 'problems' in r ? r.problems : [];
  };
  test.each<[string, Record<string, unknown>, string[]]>([
    ['every key set', { approvers: ['alice', 'group:sre'], approvals: 2, allowUnverifiedDecisions: false, autoApprove: { configuredBy: 'sre-lead', reason: 'staging only' }, escalateAfter: '1h30m', ciRecheckInterval: 500, ciMaxChecks: 3, minPendingAge: '0s', hpaTolerance: 0, strategy: 'mark-failed', ciJobTimeout: '2h', ciPollInterval: '500ms' }, []],
    ['a two-person rule unverified names could meet', { approvals: 2, allowUnverifiedDecisions: true }, ['policy.allowUnverifiedDecisions cannot be on with approvals 2: unverified names are not people']],
    ['no approvers', { approvers: undefined }, ['policy.approvers must list at least one approver']],
    ['an empty list of approvers', { approvers: [] }, ['policy.approvers must list at least one approver']],
    ['an empty approver', { approvers: ['alice', ''] }, ['policy.approvers[1] is empty']],
    ['approvers as a string', { approvers: 'alice' }, ['policy.approvers must be an array']],
    ['approvals 0', { approvals: 0 }, ['policy.approvals must be a whole number from 1 to 5']],
    ['approvals 6', { approvals: 6 }, ['policy.approvals must be a whole number from 1 to 5']],
    ['one and a half approvals', { approvals: 1.5 }, ['policy.approvals must be a whole number from 1 to 5']],
    ['allowUnverifiedDecisions as text', { allowUnverifiedDecisions: 'yes' }, ['policy.allowUnverifiedDecisions must be true or false']],
    ['an unknown key', { approver: ['bob'] }, ['policy has unknown key "approver"']],
    ['autoApprove without who and why', { autoApprove: {} }, ['policy.autoApprove.configuredBy must be a string (it is missing)', 'policy.autoApprove.reason must be a string (it is missing)']],
    ['autoApprove configured by nobody', { autoApprove: { configuredBy: '', reason: 'staging' } }, ['policy.autoApprove.configuredBy is empty']],
    ['autoApprove: true', { autoApprove: true }, ['policy.autoApprove must name who configured it (configuredBy) and why (reason)']],
    ['a duration in words', { escalateAfter: 'soon' }, ['policy.escalateAfter must be a duration like 30s, 5m or 1h, not "soon"']],
    ['a negative duration', { minPendingAge: -1 }, ['policy.minPendingAge must be a duration like 30s, 5m or 1h, not -1']],
    ['a duration that is true', { ciPollInterval: true }, ['policy.ciPollInterval must be a duration like 30s, 5m or 1h, not true']],
    ['half a check', { ciMaxChecks: 0.5 }, ['policy.ciMaxChecks must be a whole number >= 1']],
    ['zero checks', { ciMaxChecks: 0 }, ['policy.ciMaxChecks must be a whole number >= 1']],
    ['checks as a string', { ciMaxChecks: '3' }, ['policy.ciMaxChecks must be a whole number >= 1']],
    ['a tolerance over 1', { hpaTolerance: 2 }, ['policy.hpaTolerance must be between 0 and 1']],
    ['the rollback strategy', { strategy: 'rollback' }, ['policy.strategy must be "delete" or "mark-failed", not "rollback"']],
    ['a huge approver', { approvers: [huge] }, ['policy.approvers[0] is too long (more than 256 characters)']],
    ['a huge duration', { escalateAfter: `${'1'.repeat(100000)}s` }, [`policy.escalateAfter must be a duration like 30s, 5m or 1h, not "${'1'.repeat(64)}…"`]],
  ])('%s', (_w, patch, want) => {
    expect(problems(patch)).toEqual(want);
  });

  test("a cluster's overrides win key by key; the rest are the defaults'", () => {
    const r = resolvePolicy({ approvers: ['alice', 'bob'], escalateAfter: '30m', autoApprove: { configuredBy: 'x', reason: 'y' } }, { approvals: 2, autoApprove: undefined, minPendingAge: '10m' }, [KEY]);
    expect(r).toMatchObject({ approvers: ['alice', 'bob'], approvals: 2, escalateAfterMs: 30 * 60_000, minPendingAgeMs: 10 * 60_000, autoApprove: { configuredBy: 'x' }, decisionKeys: [KEY] });
    expect(resolvePolicy({ approvers: ['alice'] }, { approvers: ['carol'], autoApprove: { configuredBy: 'sre-lead', reason: 'staging' } })).toMatchObject({ approvers: ['carol'], autoApprove: { configuredBy: 'sre-lead' } });
  });

  test('GitLab projects to watch', () => {
    expect(watchProblems([])).toEqual(['gitlab must list at least one GitLab project and environment to watch (runbook step 1)']);
    expect(watchProblems(undefined)).toEqual(['gitlab must list at least one GitLab project and environment to watch (runbook step 1)']);
    expect(watchProblems([{ project: '', environment: '' }])).toEqual(['gitlab[0].project must be a project path (group/name) or a numeric id', 'gitlab[0].environment is empty']);
    expect(watchProblems([{ project: 1.5, environment: 'e' }])).toEqual(['gitlab[0].project must be a project path (group/name) or a numeric id']);
    expect(watchProblems([{ project: 1, environment: 'e', jobPattern: '(' }])).toEqual(['gitlab[0].jobPattern "(" is not an RE2 regular expression (missing closing ): `(`)']);
    expect(watchProblems([{ project: 1, environment: 'e', jobPattern: '(a)\\1' }])).toEqual(['gitlab[0].jobPattern "(a)\\\\1" is not an RE2 regular expression (invalid escape sequence: `\\1`)']);
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
      approvals: 1,
      allowUnverifiedDecisions: false,
      decisionKeys: [],
      ciMaxChecks: 10,
      hpaTolerance: 0.1,
      strategy: 'delete',
      escalateAfterMs: 15 * 60_000,
      ciRecheckIntervalMs: 60_000,
      minPendingAgeMs: 5 * 60_000,
      ciJobTimeoutMs: 30 * 60_000,
      ciPollIntervalMs: 10_000,
      repeatLimit: { unlocks: 3, windowMs: 7 * 86_400_000 },
    });
  });

  test('keeps what is set, and a key set to undefined takes the default', () => {
    const p = resolvePolicy({ approvers: ['a'], autoApprove: { configuredBy: 'x', reason: 'y' }, minPendingAge: '0s', escalateAfter: undefined, ciPollInterval: 250, strategy: 'mark-failed', ciMaxChecks: 2, hpaTolerance: 0 });
    expect(p).toMatchObject({ autoApprove: { configuredBy: 'x', reason: 'y' }, minPendingAgeMs: 0, escalateAfterMs: 900_000, ciPollIntervalMs: 250, strategy: 'mark-failed', ciMaxChecks: 2, hpaTolerance: 0 });
  });

  test('refuses a policy that was not validated', () => {
    expect(() => resolvePolicy({ approvers: ['a'], escalateAfter: 'soon' })).toThrow(/invalid policy: policy.escalateAfter must be a duration/);
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
