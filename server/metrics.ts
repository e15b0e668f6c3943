// A small Prometheus registry: counters, gauges and histograms with labels, text format 0.0.4.
type Labels = Record<string, string>;
const key = (l: Labels) => JSON.stringify(Object.entries(l).sort());
const fmt = (l: Labels) => {
  const e = Object.entries(l);
  return e.length ? `{${e.map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}` : '';
};

abstract class Metric {
  constructor(readonly name: string, readonly help: string, readonly type: string) {}
  abstract lines(): string[];
}

export class Counter extends Metric {
  private values = new Map<string, { labels: Labels; v: number }>();
  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    const cur = this.values.get(k) ?? { labels, v: 0 };
    cur.v += by;
    this.values.set(k, cur);
  }
  get(labels: Labels = {}): number {
    return this.values.get(key(labels))?.v ?? 0;
  }
  lines(): string[] {
    return [...this.values.values()].map(({ labels, v }) => `${this.name}${fmt(labels)} ${v}`);
  }
}

export class Gauge extends Metric {
  private values = new Map<string, { labels: Labels; v: number }>();
  constructor(name: string, help: string) {
    super(name, help, 'gauge');
  }
  set(labels: Labels, v: number): void {
    this.values.set(key(labels), { labels, v });
  }
  lines(): string[] {
    return [...this.values.values()].map(({ labels, v }) => `${this.name}${fmt(labels)} ${v}`);
  }
}

export class Histogram extends Metric {
  private series = new Map<string, { labels: Labels; counts: number[]; sum: number; n: number }>();
  constructor(name: string, help: string, readonly buckets: number[]) {
    super(name, help, 'histogram');
  }
  observe(labels: Labels, v: number): void {
    const k = key(labels);
    const s = this.series.get(k) ?? { labels, counts: this.buckets.map(() => 0), sum: 0, n: 0 };
    this.buckets.forEach((b, i) => {
      if (v <= b) s.counts[i]!++;
    });
    s.sum += v;
    s.n++;
    this.series.set(k, s);
  }
  lines(): string[] {
    const out: string[] = [];
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${fmt({ ...s.labels, le: String(b) })} ${s.counts[i]}`));
      out.push(`${this.name}_bucket${fmt({ ...s.labels, le: '+Inf' })} ${s.n}`);
      out.push(`${this.name}_sum${fmt(s.labels)} ${s.sum}`, `${this.name}_count${fmt(s.labels)} ${s.n}`);
    }
    return out;
  }
}

export class Registry {
  private metrics: Metric[] = [];
  add<M extends Metric>(m: M): M {
    this.metrics.push(m);
    return m;
  }
  text(): string {
    return this.metrics.map((m) => [`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`, ...m.lines()].join('\n')).join('\n') + '\n';
  }
}

/** helm-unstuck's metrics, shared by the webhook receiver and the worker in one process. */
export function createMetrics() {
  const registry = new Registry();
  return {
    registry,
    webhookRequests: registry.add(new Counter('helm_unstuck_webhook_requests_total', 'Alertmanager webhook requests, by result (ok, unauthorized, bad_request, too_large, unavailable, …).')),
    alerts: registry.add(new Counter('helm_unstuck_alerts_total', 'Alerts received, by result: started, joined, duplicate, resolved, rejected.')),
    incidents: registry.add(new Counter('helm_unstuck_incidents_total', 'Finished incidents, by outcome.')),
    stepSeconds: registry.add(new Histogram('helm_unstuck_step_duration_seconds', 'Time each runbook step took, waits for humans included.', [0.1, 0.5, 1, 5, 30, 60, 300, 900, 3600, 14400])),
    stuckReleases: registry.add(new Gauge('helm_unstuck_stuck_releases', 'Releases with a firing stuck alert, by cluster.')),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
