// Alerts → incidents. One workflow per release: the first firing alert starts it, repeats and
// duplicates join it. Alertmanager re-sends every group_interval and repeat_interval, and a storm
// sends the same alert many times at once, so each release's firing alerts are forwarded once per
// TTL. The rest are answered "duplicate" from memory at once, even while that first call is still
// under way (not single-flight: a storm never waits on Temporal; if the first call fails, its own
// request gets the 5xx and Alertmanager retries it).
import { WorkflowNotFoundError, isGrpcServiceError, type Client } from '@temporalio/client';
import type { AlertTarget } from '../decisions/alerts';
import { workflowIdFor, type RemediationInput } from '../decisions/remediation';
import type { Config } from '../lib/config';
import { InvalidRemediationInput, notifyAlert, startRemediation } from '../client/remediation';
import type { Metrics } from './metrics';

export type AlertResult =
  | { fingerprint: string; workflowId: string; result: 'started' | 'joined' | 'duplicate' | 'resolved' | 'resolved-no-incident' }
  | { fingerprint: string; result: 'rejected'; reason: string };

/** Temporal could not be reached: the webhook answers 503 and Alertmanager retries. */
export class UnavailableError extends Error {
  override name = 'UnavailableError';
}

/** Temporal answered with an error (a missing namespace, a refused call…), or our call failed. */
export class ForwardError extends Error {
  override name = 'ForwardError';
}

// gRPC status codes (@grpc/grpc-js's `status`, not a dependency of ours).
const UNAVAILABLE = 14;
const DEADLINE_EXCEEDED = 4;

/** Whether an error, or one of its causes, says the connection to Temporal failed. */
export function isConnectionFailure(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (isGrpcServiceError(e) && (e.code === UNAVAILABLE || e.code === DEADLINE_EXCEEDED)) return true;
  }
  return false;
}

export class AlertForwarder {
  private readonly recent = new Map<string, { at: number }>();
  private readonly firing = new Map<string, Set<string>>();

  constructor(
    private readonly client: Client,
    private readonly config: Pick<Config, 'clusters' | 'taskQueue'>,
    private readonly metrics: Metrics,
    private readonly ttlMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  private track(t: AlertTarget, firing: boolean): void {
    const set = this.firing.get(t.cluster) ?? new Set<string>();
    const k = `${t.namespace}/${t.release}`;
    if (firing) set.add(k);
    else set.delete(k);
    this.firing.set(t.cluster, set);
    this.metrics.stuckReleases.set({ cluster: t.cluster }, set.size);
  }

  /** What the incident is about; its policy and GitLab projects are the worker's configuration. */
  input(t: AlertTarget): RemediationInput {
    return {
      cluster: t.cluster,
      namespace: t.namespace,
      release: t.release,
      ...(t.revision !== undefined ? { revision: t.revision } : {}),
      trigger: { source: 'alertmanager', by: `alert ${t.fingerprint}`, fingerprint: t.fingerprint, startsAt: t.startsAt, ...(t.summary ? { summary: t.summary } : {}) },
    };
  }

  async forward(t: AlertTarget): Promise<AlertResult> {
    const cluster = this.config.clusters[t.cluster];
    if (!cluster) return { fingerprint: t.fingerprint, result: 'rejected', reason: `cluster "${t.cluster}" is not configured` };
    const workflowId = workflowIdFor(t.cluster, t.namespace, t.release);
    try {
      if (t.status === 'resolved') {
        this.track(t, false);
        this.recent.delete(workflowId);
        try {
          await notifyAlert(this.client, workflowId, { status: 'resolved', fingerprint: t.fingerprint, startsAt: t.startsAt, endsAt: t.endsAt });
          return { fingerprint: t.fingerprint, workflowId, result: 'resolved' };
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) return { fingerprint: t.fingerprint, workflowId, result: 'resolved-no-incident' };
          throw err;
        }
      }
      this.track(t, true);
      const seen = this.recent.get(workflowId);
      if (seen && this.now() - seen.at < this.ttlMs) {
        // Answered from memory, without waiting for the first call: if that one fails, its own
        // request gets a 5xx and Alertmanager retries it, so the incident still starts.
        return { fingerprint: t.fingerprint, workflowId, result: 'duplicate' };
      }
      const result = (async () => {
        const { handle, started } = await startRemediation(this.client, this.input(t), this.config.taskQueue);
        if (!started) await notifyAlert(this.client, handle.workflowId, { status: 'firing', fingerprint: t.fingerprint, startsAt: t.startsAt, ...(t.summary ? { summary: t.summary } : {}) });
        return started ? ('started' as const) : ('joined' as const);
      })();
      this.recent.set(workflowId, { at: this.now() });
      try {
        return { fingerprint: t.fingerprint, workflowId, result: await result };
      } catch (err) {
        this.recent.delete(workflowId);
        throw err;
      }
    } catch (err) {
      if (err instanceof InvalidRemediationInput) return { fingerprint: t.fingerprint, result: 'rejected', reason: err.message };
      if (isConnectionFailure(err)) throw new UnavailableError(`could not reach Temporal for ${workflowId}: ${(err as Error).message}`);
      throw new ForwardError(`forwarding the alert to ${workflowId} failed: ${(err as Error).message}`, { cause: err });
    }
  }
}
