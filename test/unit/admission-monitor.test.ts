import { AdmissionMonitor, describeAdmission } from '../../activities/admission';
import type { KubeApi } from '../../activities/kubernetes';
import { KubeUnavailableError } from '../../activities/kubernetes';
import type { AdmissionProbe } from '../../decisions/admission-policy';

// The monitor over fake clusters: what it probes, when, and what it reports.
function fleet(answers: Record<string, AdmissionProbe['answer'] | 'down'>) {
  const probes: string[] = [];
  const kubeFor = (cluster: string) =>
    ({
      probeAdmissionPolicy: async (namespace: string): Promise<AdmissionProbe> => {
        probes.push(`${cluster}/${namespace}`);
        const a = answers[cluster];
        if (a === 'down') throw new KubeUnavailableError('connect ECONNREFUSED', 0);
        if (a === 'refused-by-policy') return { answer: a, namespace, policy: 'ops-helm-unstuck', message: 'denied' };
        if (a === 'inconclusive') return { answer: a, namespace, why: 'RBAC' };
        return { answer: 'admitted', namespace };
      },
    }) as unknown as KubeApi;
  return { kubeFor, probes };
}

test('start-up: every cluster in its probe namespace; unreachable is unknown, never a throw', async () => {
  const { kubeFor, probes } = fleet({ gprd: 'refused-by-policy', legacy: 'admitted', gstg: 'down' });
  const seen: string[] = [];
  const m = new AdmissionMonitor(kubeFor, { gprd: {}, legacy: { admissionPolicy: 'not-required' }, gstg: { admissionProbeNamespace: 'gitlab' } }, { now: () => 0, onProbe: (c, s) => seen.push(`${c}=${s.state}`) });
  expect(m.status()).toEqual({ gprd: { requirement: 'required', state: 'unknown' }, legacy: { requirement: 'not-required', state: 'unknown' }, gstg: { requirement: 'required', state: 'unknown' } });
  const status = await m.probeAll();
  expect(probes.sort()).toEqual(['gprd/default', 'gstg/gitlab', 'legacy/default']);
  expect(seen.sort()).toEqual(['gprd=enforced', 'gstg=unknown', 'legacy=not-enforced']);
  expect(status).toEqual({
    gprd: { requirement: 'required', state: 'enforced', namespace: 'default', detail: 'refused by ValidatingAdmissionPolicy ops-helm-unstuck', probedAt: '1970-01-01T00:00:00.000Z' },
    legacy: { requirement: 'not-required', state: 'not-enforced', namespace: 'default', detail: 'a forged deployed release record was admitted (dry run)', probedAt: '1970-01-01T00:00:00.000Z' },
    gstg: { requirement: 'required', state: 'unknown', namespace: 'gitlab', detail: 'probe failed: connect ECONNREFUSED', probedAt: '1970-01-01T00:00:00.000Z' },
  });
  expect(describeAdmission(status)).toEqual([
    'cluster gprd: admission policy in force (refused by ValidatingAdmissionPolicy ops-helm-unstuck)',
    'cluster legacy: admission policy NOT in force (a forged deployed release record was admitted (dry run)); not required there (clusters.legacy.admissionPolicy: not-required)',
    'cluster gstg: admission policy unknown (probe failed: connect ECONNREFUSED); an unlock there probes again where it writes, and is refused unless the policy is in force',
  ]);
});

test('the unlock’s check: required probes now, in the namespace it writes; not-required sends nothing; unreachable throws (retryable)', async () => {
  const { kubeFor, probes } = fleet({ gprd: 'refused-by-policy', legacy: 'admitted', gstg: 'down' });
  const m = new AdmissionMonitor(kubeFor, { gprd: {}, legacy: { admissionPolicy: 'not-required' }, gstg: {} });
  expect(await m.check('gprd', 'gitlab')).toEqual({ cluster: 'gprd', requirement: 'required', probe: expect.objectContaining({ answer: 'refused-by-policy', namespace: 'gitlab' }) });
  expect(await m.check('legacy', 'gitlab')).toEqual({ cluster: 'legacy', requirement: 'not-required' });
  await expect(m.check('gstg', 'gitlab')).rejects.toThrow(KubeUnavailableError);
  // A cluster not configured: required (the default), and the probe goes to whatever kubeFor says (it refuses unknown clusters).
  expect(m.requirementOf('elsewhere')).toBe('required');
  await expect(m.check('gprd', '../x')).rejects.toThrow(/namespace/);
  expect(probes).toEqual(['gprd/gitlab', 'gstg/gitlab']);
  expect(m.status().gprd).toMatchObject({ state: 'enforced', namespace: 'gitlab' });
});
