// Alerts → incidents. One workflow per release: the first firing alert starts it, repeats and
// duplicates join it. Alertmanager re-sends every group_interval and repeat_interval, and a storm
// sends the same alert many times at once, so each release's firing (and resolved) alerts are
// forwarded once per TTL. The rest are answered "duplicate" from memory at once, even while that
// first call is still under way (not single-flight: a storm never waits on Temporal; if the first
// call fails, its own request gets the 5xx and Alertmanager retries it). That memory is bounded
// (a cap and the TTL), as whoever posts alerts chooses its keys.
//
// A group Alertmanager truncated (max_alerts) sends the same first alerts every time, so the
// releases it leaves out would get no incident until those resolve: the receiver then has that
// cluster scanned (by the worker, which holds its credentials: truncation-scan.ts), at most once
// per interval, and forwards every stuck release found.
import { WorkflowNotFoundError, isGrpcServiceError, type Client } from '@temporalio/client';
import pLimit from 'p-limit';
import type { ScannedRelease } from '../activities/truncation-scan';
import type { AlertTarget } from '../decisions/alerts';
import { namespaceAllowed, namespaceRefusal } from '../decisions/namespaces';
import { workflowIdFor } from '../decisions/vocabulary';
import type { RemediationInput } from '../decisions/schemas';
import type { Config } from '../lib/config';
import { InvalidRemediationInput, notifyAlert, startRemediation } from '../client/incidents';
import { BoundedMemory } from './bounded-memory';
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

/** How an incident the receiver's own scan started says so. */
export const TRUNCATION_SCAN = 'scan after a truncated alert group';

export interface ForwarderOptions {
  /** Forward each release's firing (or resolved) alerts once per this (default 1 min). */
  ttlMs?: number;
  /** At most this many releases remembered (default 10,000); the oldest are forgotten first. */
  maxRemembered?: number;
  now?: () => number;
  /** The stuck releases of a configured cluster (the scan `helm-unstuck scan` runs, on the worker: truncation-scan.ts). */
  scan?: (cluster: string) => Promise<ScannedRelease[]>;
  /** At most one scan per cluster per this (default 1 min). */
  scanIntervalMs?: number;
  log?: (line: string) => void;
}

/** A release seen firing within this long counts in helm_unstuck_stuck_releases (Alertmanager re-sends every repeat_interval, 4 h by default). */
const FIRING_TTL_MS = 24 * 3600_000;

export class AlertForwarder {
  private readonly recent: BoundedMemory<'firing' | 'resolved'>;
  private readonly firing = new Map<string, BoundedMemory<true>>();
  private readonly scanned: BoundedMemory<true>;
  private readonly now: () => number;
  /** Scans under way (tests and shutdown wait for them). */
  private readonly scans = new Set<Promise<void>>();

  constructor(
    private readonly client: Client,
    private readonly config: Pick<Config, 'clusters' | 'taskQueue'>,
    private readonly metrics: Metrics,
    private readonly opts: ForwarderOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.recent = new BoundedMemory(opts.maxRemembered ?? 10_000, opts.ttlMs ?? 60_000, this.now);
    this.scanned = new BoundedMemory(1_000, opts.scanIntervalMs ?? 60_000, this.now);
  }

  /** Only configured clusters reach here, so the gauge's label values are the config's names. */
  private track(t: AlertTarget, firing: boolean): void {
    let set = this.firing.get(t.cluster);
    if (!set) this.firing.set(t.cluster, (set = new BoundedMemory(this.opts.maxRemembered ?? 10_000, FIRING_TTL_MS, this.now)));
    const k = `${t.namespace}/${t.release}`;
    if (firing) set.set(k, true);
    else set.delete(k);
    this.metrics.stuckReleases.set({ cluster: t.cluster }, set.size);
  }

  /** What the incident is about; its policy and GitLab projects are the worker's configuration. */
  input(t: AlertTarget): RemediationInput {
    return {
      cluster: t.cluster,
      namespace: t.namespace,
      release: t.release,
      ...(t.revision !== undefined ? { revision: t.revision } : {}),
      trigger: { source: 'alertmanager', by: t.fingerprint ? `alert ${t.fingerprint}` : TRUNCATION_SCAN, ...(t.fingerprint ? { fingerprint: t.fingerprint } : {}), startsAt: t.startsAt, ...(t.summary ? { summary: t.summary } : {}) },
    };
  }

  async forward(t: AlertTarget): Promise<AlertResult> {
    const cluster = Object.hasOwn(this.config.clusters, t.cluster) ? this.config.clusters[t.cluster] : undefined;
    if (!cluster) return { fingerprint: t.fingerprint, result: 'rejected', reason: `cluster "${t.cluster}" is not configured` };
    if (!namespaceAllowed(cluster, t.namespace)) {
      // The cluster is a configured name, so the series are the config's; the namespace is not a label.
      this.metrics.alertsNamespaceRefused.inc({ cluster: t.cluster });
      return { fingerprint: t.fingerprint, result: 'rejected', reason: namespaceRefusal(t.cluster, t.namespace) };
    }
    const workflowId = workflowIdFor(t.cluster, t.namespace, t.release);
    try {
      // Answered from memory, without waiting for the first call: if that one fails, its own
      // request gets a 5xx and Alertmanager retries it, so the incident still hears of it.
      if (this.recent.get(workflowId) === t.status) {
        if (t.status === 'firing') this.track(t, true);
        return { fingerprint: t.fingerprint, workflowId, result: 'duplicate' };
      }
      this.recent.set(workflowId, t.status);
      try {
        if (t.status === 'resolved') {
          this.track(t, false);
          try {
            await notifyAlert(this.client, workflowId, { status: 'resolved', fingerprint: t.fingerprint, startsAt: t.startsAt, endsAt: t.endsAt });
            return { fingerprint: t.fingerprint, workflowId, result: 'resolved' };
          } catch (err) {
            if (err instanceof WorkflowNotFoundError) return { fingerprint: t.fingerprint, workflowId, result: 'resolved-no-incident' };
            throw err;
          }
        }
        this.track(t, true);
        return { fingerprint: t.fingerprint, workflowId, result: await this.startOrJoin(t) };
      } catch (err) {
        if (this.recent.get(workflowId) === t.status) this.recent.delete(workflowId);
        throw err;
      }
    } catch (err) {
      if (err instanceof InvalidRemediationInput) return { fingerprint: t.fingerprint, result: 'rejected', reason: err.message };
      if (isConnectionFailure(err)) throw new UnavailableError(`could not reach Temporal for ${workflowId}: ${(err as Error).message}`);
      throw new ForwardError(`forwarding the alert to ${workflowId} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Start the release's incident, or tell the running one. An incident that finishes between the
   * two (its signal answers "already completed") is gone: the alert still fires, so start again.
   */
  private async startOrJoin(t: AlertTarget): Promise<'started' | 'joined'> {
    for (let attempt = 1; ; attempt++) {
      const { handle, started } = await startRemediation(this.client, this.input(t), this.config.taskQueue);
      if (started) return 'started';
      if (!t.fingerprint) return 'joined';
      try {
        await notifyAlert(this.client, handle.workflowId, { status: 'firing', fingerprint: t.fingerprint, startsAt: t.startsAt, ...(t.summary ? { summary: t.summary } : {}) });
        return 'joined';
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError) || attempt >= 3) throw err;
      }
    }
  }

  /**
   * Alertmanager left `truncated` alerts of a group about `cluster` out: look at the cluster and
   * forward every stuck release found (each at most one workflow, as always). In the background,
   * so Alertmanager's request is answered at once; at most one scan per cluster per interval.
   */
  truncated(cluster: string, truncated: number): void {
    const log = this.opts.log ?? (() => undefined);
    if (!this.opts.scan || !Object.hasOwn(this.config.clusters, cluster)) return;
    if (this.scanned.get(cluster)) {
      this.metrics.truncationScans.inc({ result: 'skipped' });
      return;
    }
    this.scanned.set(cluster, true);
    const scan = this.opts.scan;
    const run = (async () => {
      try {
        const stuck = await scan(cluster);
        this.metrics.truncationScans.inc({ result: 'scanned' });
        const results = await pLimit(4).map(stuck, (s) =>
          this.forward({ fingerprint: '', status: 'firing', cluster, namespace: s.namespace, release: s.release, summary: `${TRUNCATION_SCAN}: ${s.reason}`, startsAt: new Date(this.now()).toISOString(), endsAt: '' }).catch(
            (err: Error): AlertResult => ({ fingerprint: '', result: 'rejected', reason: err.message }),
          ),
        );
        const count = (r: string) => results.filter((x) => x.result === r).length;
        log(`alert group of cluster ${cluster} truncated (${truncated} alerts left out): scanned it, ${stuck.length} stuck release(s): ${count('started')} incident(s) started, ${count('duplicate') + count('joined')} already known, ${count('rejected')} failed`);
        for (const r of results) if (r.result === 'rejected') log(`truncation scan of ${cluster}: ${r.reason}`);
      } catch (err) {
        // Forget it, so the next truncated group tries again.
        this.scanned.delete(cluster);
        this.metrics.truncationScans.inc({ result: 'failed' });
        log(`alert group of cluster ${cluster} truncated (${truncated} alerts left out), and scanning it failed: ${(err as Error).message}`);
      }
    })();
    this.scans.add(run);
    void run.finally(() => this.scans.delete(run));
  }

  /** Resolves when no truncation scan is under way. */
  async idle(): Promise<void> {
    while (this.scans.size > 0) await Promise.all([...this.scans]);
  }
}
