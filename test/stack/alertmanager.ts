// Debian's prometheus-alertmanager on loopback, routing every alert to one webhook receiver.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, removeDir, startServer, tempDir, waitUntil } from './process';

export const ALERTMANAGER_BIN = process.env.ALERTMANAGER_BIN ?? '/usr/bin/prometheus-alertmanager';

export interface Alertmanager {
  url: string;
  /** POST alerts to /api/v2/alerts, as Prometheus would. */
  fire(alerts: PostableAlert[]): Promise<void>;
  stop(): Promise<void>;
}

export interface PostableAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  generatorURL?: string;
}

export interface AlertmanagerOptions {
  /** Where the webhook receiver posts. */
  webhookUrl: string;
  /** Sent as `Authorization: Bearer <token>`. */
  bearerToken: string;
  groupBy?: string[];
  /** The receiver's max_alerts: alerts beyond it are left out of each webhook (default 0, all). */
  maxAlerts?: number;
  /** The route's group_wait (default 1s). */
  groupWait?: string;
  /** Listen on this port (to start it again where it was); default: a free one. */
  port?: number;
}

export async function startAlertmanager(opts: AlertmanagerOptions): Promise<Alertmanager> {
  const dir = tempDir('alertmanager');
  const port = opts.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const config = {
    route: {
      receiver: 'helm-unstuck',
      group_by: opts.groupBy ?? ['alertname', 'cluster', 'namespace', 'label_name'],
      // Fast enough for tests; production uses Alertmanager's defaults.
      group_wait: opts.groupWait ?? '1s',
      group_interval: '1s',
      repeat_interval: '1m',
    },
    receivers: [
      {
        name: 'helm-unstuck',
        webhook_configs: [
          {
            url: opts.webhookUrl,
            send_resolved: true,
            max_alerts: opts.maxAlerts ?? 0,
            http_config: { authorization: { type: 'Bearer', credentials: opts.bearerToken } },
          },
        ],
      },
    ],
  };
  const configFile = join(dir, 'alertmanager.yml');
  // JSON is YAML.
  writeFileSync(configFile, JSON.stringify(config), { mode: 0o600 });
  const server = startServer(
    'alertmanager',
    ALERTMANAGER_BIN,
    [
      `--config.file=${configFile}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      `--web.external-url=${url}`,
      '--log.level=warn',
    ],
    { logFile: join(dir, 'alertmanager.log') },
  );
  try {
    await waitUntil('alertmanager /-/ready', async () => (await fetch(`${url}/-/ready`)).ok, {
      timeoutMs: 30_000,
      server,
    });
  } catch (err) {
    await server.stop();
    throw err;
  }
  return {
    url,
    async fire(alerts) {
      const res = await fetch(`${url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alerts),
      });
      if (!res.ok) throw new Error(`alertmanager refused alerts: ${res.status} ${await res.text()}`);
    },
    async stop() {
      await server.stop();
      await removeDir(dir);
    },
  };
}
