// The admission policy, per configured cluster: probed at start and every minute for /healthz and
// the metric, and again just before an unlock acts, in the namespace it is about to write (the
// answer unlockRelease judges is never older than that request). decisions/admission-policy.ts
// says why, and judges.
import {
  admissionState,
  DEFAULT_ADMISSION_REQUIREMENT,
  type AdmissionProbe,
  type AdmissionRequirement,
  type AdmissionSeen,
  type AdmissionState,
} from '../decisions/admission-policy';
import { validateNamespace } from '../decisions/helm';
import { own } from '../decisions/validation';
import type { KubeFor } from './clusters';
import { InvalidInputError } from './failures';

/** What the operator configured for one cluster (lib/config.ts: clusters.<name>). */
export interface AdmissionSettings {
  admissionPolicy?: AdmissionRequirement;
  /** Where the start-up and periodic probes send their dry run (default `default`). */
  admissionProbeNamespace?: string;
}

export const DEFAULT_PROBE_NAMESPACE = 'default';

/** helm_unstuck_admission_policy_enforced's value for each state. */
export const ADMISSION_GAUGE: Record<AdmissionState, number> = { enforced: 1, 'not-enforced': 0, unknown: -1 };

/** How often serve re-probes every cluster for /healthz and the metric. */
export const ADMISSION_REPROBE_MS = 60_000;

/** One cluster as /healthz shows it. */
export interface ClusterAdmission {
  requirement: AdmissionRequirement;
  state: AdmissionState;
  /** When the last probe answered (or failed), ISO 8601; absent before the first. */
  probedAt?: string;
  namespace?: string;
  /** The policy that refused the probe (enforced), or why the probe could not tell. */
  detail?: string;
}

/** What unlockRelease asks before acting: the requirement, and (when required) a probe made now. */
export type AdmissionCheck = (cluster: string, namespace: string) => Promise<AdmissionSeen>;

export class AdmissionMonitor {
  private readonly seen = new Map<string, ClusterAdmission>();

  constructor(
    private readonly kubeFor: KubeFor,
    private readonly clusters: Readonly<Record<string, AdmissionSettings>>,
    private readonly opts: { now?: () => number; onProbe?: (cluster: string, c: ClusterAdmission) => void } = {},
  ) {}

  requirementOf(cluster: string): AdmissionRequirement {
    return own(this.clusters, cluster)?.admissionPolicy ?? DEFAULT_ADMISSION_REQUIREMENT;
  }

  /** Probe `cluster` in `namespace` now, and remember the answer. An unreachable API server throws (retryable). */
  async probe(cluster: string, namespace: string): Promise<AdmissionProbe> {
    const problem = validateNamespace(namespace);
    if (problem) throw new InvalidInputError(problem);
    try {
      const p = await this.kubeFor(cluster).probeAdmissionPolicy(namespace);
      const detail = p.answer === 'refused-by-policy' ? `refused by ValidatingAdmissionPolicy ${p.policy}` : p.answer === 'inconclusive' ? p.why : 'a forged deployed release record was admitted (dry run)';
      this.record(cluster, { state: admissionState(p), namespace, detail });
      return p;
    } catch (err) {
      if (!(err instanceof InvalidInputError)) this.record(cluster, { state: 'unknown', namespace, detail: `probe failed: ${(err as Error).message}` });
      throw err;
    }
  }

  /** Every configured cluster, in its probe namespace, at once, each logged in a line; never throws (failures are `unknown`). */
  async probeAll(log?: (line: string) => void): Promise<Record<string, ClusterAdmission>> {
    await Promise.all(
      Object.entries(this.clusters).map(([cluster, c]) => this.probe(cluster, c.admissionProbeNamespace ?? DEFAULT_PROBE_NAMESPACE).catch(() => undefined)),
    );
    const status = this.status();
    if (log) describeAdmission(status).forEach((l) => log(l));
    return status;
  }

  /** unlockRelease's check: where the policy is required, a probe in the namespace it is about to write. */
  readonly check: AdmissionCheck = async (cluster, namespace) => {
    const requirement = this.requirementOf(cluster);
    if (requirement === 'not-required') return { cluster, requirement };
    return { cluster, requirement, probe: await this.probe(cluster, namespace) };
  };

  /** Each configured cluster's last probe (never probed: `unknown`). */
  status(): Record<string, ClusterAdmission> {
    return Object.fromEntries(
      Object.keys(this.clusters).map((cluster) => [cluster, this.seen.get(cluster) ?? { requirement: this.requirementOf(cluster), state: 'unknown' as const }]),
    );
  }

  private record(cluster: string, c: Omit<ClusterAdmission, 'requirement' | 'probedAt'>): void {
    const now = new Date((this.opts.now ?? Date.now)()).toISOString();
    const entry: ClusterAdmission = { requirement: this.requirementOf(cluster), ...c, probedAt: now };
    this.seen.set(cluster, entry);
    this.opts.onProbe?.(cluster, entry);
  }
}

/** One line per cluster, for the start-up log. */
export function describeAdmission(status: Record<string, ClusterAdmission>): string[] {
  return Object.entries(status).map(([cluster, c]) => {
    const what = c.state === 'enforced' ? 'in force' : c.state === 'not-enforced' ? 'NOT in force' : 'unknown';
    const then =
      c.state === 'enforced' ? '' : c.requirement === 'required' ? '; an unlock there probes again where it writes, and is refused unless the policy is in force' : `; not required there (clusters.${cluster}.admissionPolicy: not-required)`;
    return `cluster ${cluster}: admission policy ${what} (${c.detail ?? 'not probed'})${then}`;
  });
}
