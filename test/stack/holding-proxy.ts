// A plain-HTTP proxy on loopback in front of the API server that can hold one request: it takes
// the request (body and all) but does not pass it on until the test says so, even after the client
// that sent it has died. In front of a `serve` replica, a held DELETE of a Helm record means that
// replica is inside the unlock activity, its backup written, its DELETE sent: the moment to kill
// it. Landing the held request afterwards is "the DELETE reached the API server, its sender never
// heard". Every request is logged with its time, so a test can tell when a replica next worked on
// a namespace.
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import type { Socket } from 'node:net';
import { closeTracked, listenTracked, relay } from './api-proxy';

/** A request a holding proxy took and did not pass on. */
export interface HeldRequest {
  /** The proxy that holds it. */
  proxy: string;
  method: string;
  path: string;
  /** Pass it on now, as sent; resolves with the API server's status code. */
  land(): Promise<number>;
}

/** One hold shared by several proxies: the first request any of them sees that `matches` is held. */
export class OneHold {
  private taken = false;
  private resolve!: (h: HeldRequest) => void;
  /** Resolves with the request once one is held. */
  readonly held = new Promise<HeldRequest>((ok) => (this.resolve = ok));

  constructor(private readonly matches: (method: string, path: string) => boolean) {}

  /** Whether this request is the one to hold (at most one ever is). */
  take(method: string, path: string): boolean {
    if (this.taken || !this.matches(method, path)) return false;
    this.taken = true;
    return true;
  }

  hold(h: HeldRequest): void {
    this.resolve(h);
  }
}

export interface ProxiedRequest {
  at: number;
  method: string;
  path: string;
}

export interface HoldingProxy {
  name: string;
  url: string;
  /** Every request seen, in order, held or not. */
  readonly requests: ProxiedRequest[];
  /** A kubeconfig whose context `context` reaches the API server through this proxy. */
  writeKubeconfig(file: string, context: string): string;
  close(): Promise<void>;
}

export async function startHoldingProxy(o: { name: string; server: string; caFile: string; token: string; hold?: OneHold }): Promise<HoldingProxy> {
  const ca = readFileSync(o.caFile);
  const target = new URL(o.server);
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  const upstream = (method: string, path: string, headers: IncomingHttpHeaders) =>
    request({ host: target.hostname, port: target.port, method, path, headers: { ...headers, host: target.host }, ca });

  const land = (method: string, path: string, headers: IncomingHttpHeaders, body: Buffer) =>
    new Promise<number>((ok, fail) => {
      const up = upstream(method, path, headers);
      up.on('response', (r) => {
        r.resume();
        r.on('end', () => ok(r.statusCode ?? 0));
      });
      up.on('error', fail);
      up.end(body);
    });

  const proxy = createServer((req: IncomingMessage, res) => {
    const method = req.method ?? '';
    const path = new URL(req.url ?? '/', 'http://proxy').pathname;
    requests.push({ at: Date.now(), method, path });
    if (o.hold?.take(method, path)) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => o.hold!.hold({ proxy: o.name, method, path, land: () => land(method, req.url ?? path, req.headers, Buffer.concat(chunks)) }));
      return; // never answered: the client waits, or dies waiting
    }
    relay(req, upstream(method, req.url ?? '/', req.headers), res);
  });
  const url = await listenTracked(proxy, sockets);
  return {
    name: o.name,
    url,
    requests,
    writeKubeconfig(file, context) {
      writeFileSync(
        file,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          // Plain HTTP on loopback to the proxy; the proxy verifies the API server's certificate.
          clusters: [{ name: context, cluster: { server: url, 'insecure-skip-tls-verify': true } }],
          users: [{ name: 'admin', user: { token: o.token } }],
          contexts: [{ name: context, context: { cluster: context, user: 'admin' } }],
          'current-context': context,
        }),
        { mode: 0o600 },
      );
      return file;
    },
    close: () => closeTracked(proxy, sockets),
  };
}
