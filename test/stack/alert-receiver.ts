// A stand-in for Slack or PagerDuty: an HTTP server that keeps every webhook Alertmanager posts
// to it (version 4), each alert with the moment it arrived, and waits for one to match.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '../wait-for';

export interface Received {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  /** When the webhook carrying it arrived (Date.now()). */
  at: number;
}

export interface AlertReceiver {
  url: string;
  received: Received[];
  /** The first alert received that matches, waiting at most timeoutMs for it. */
  next(pred: (a: Received) => boolean, timeoutMs?: number): Promise<Received>;
  stop(): Promise<void>;
}

export async function startAlertReceiver(): Promise<AlertReceiver> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = Date.now();
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { alerts: Omit<Received, 'at'>[] };
        for (const a of body.alerts) received.push({ ...a, at });
        res.writeHead(200).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    async next(pred, timeoutMs = 60_000) {
      const seen = () => ({ found: received.find(pred), received: received.map((a) => [a.status, a.labels]) });
      return (await waitFor('a matching alert', seen, (s) => s.found !== undefined, { timeoutMs, intervalMs: 50 })).found!;
    },
    stop: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
