// Debian's prometheus on loopback: scrapes one target, evaluates the shipped rules (with test
// durations), and sends alerts to an Alertmanager. 1 s scrape and evaluation intervals.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectorRules, DEFAULTS, toYaml, type RuleOptions } from '../../deploy/prometheus/rules';
import { freePort, removeDir, startServer, tempDir, waitUntil } from './process';

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';

export interface Prometheus {
  url: string;
  /** Active alerts (pending or firing), as GET /api/v1/alerts returns them. */
  alerts(): Promise<{ labels: Record<string, string>; annotations: Record<string, string>; state: string; activeAt: string }[]>;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** host:port of the target serving /metrics. */
  target: string;
  /** host:port of Alertmanager. */
  alertmanager: string;
  /** The shipped rules with these settings (the minimum age and `for` short, for tests). */
  rules: Partial<RuleOptions>;
  intervalSeconds?: number;
}

export async function startPrometheus(o: PrometheusOptions): Promise<Prometheus> {
  const dir = tempDir('prometheus');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const interval = `${o.intervalSeconds ?? 1}s`;
  writeFileSync(join(dir, 'rules.yml'), toYaml(detectorRules({ ...DEFAULTS, ...o.rules })));
  const config = {
    global: { scrape_interval: interval, evaluation_interval: interval },
    rule_files: [join(dir, 'rules.yml')],
    alerting: { alertmanagers: [{ static_configs: [{ targets: [o.alertmanager] }] }] },
    scrape_configs: [{ job_name: 'helm-unstuck', static_configs: [{ targets: [o.target] }] }],
  };
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, JSON.stringify(config));
  const server = startServer(
    'prometheus',
    PROMETHEUS_BIN,
    [`--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { logFile: join(dir, 'prometheus.log') },
  );
  try {
    await waitUntil('prometheus /-/ready', async () => (await fetch(`${url}/-/ready`)).ok, { timeoutMs: 30_000, server });
  } catch (err) {
    await server.stop();
    throw err;
  }
  return {
    url,
    async alerts() {
      const r = (await (await fetch(`${url}/api/v1/alerts`)).json()) as { data: { alerts: Awaited<ReturnType<Prometheus['alerts']>> } };
      return r.data.alerts;
    },
    async stop() {
      await server.stop();
      await removeDir(dir);
    },
  };
}
