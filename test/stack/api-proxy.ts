// A plain-HTTP proxy on loopback in front of the API server: it counts the requests clients make
// (by verb, watches apart) and can cut every open connection at once, as a network failure would.
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type ClientRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

export interface ApiProxy {
  url: string;
  /** Requests since the last reset: every one, the watches among them, and every DELETE (answered or not). */
  counts(): { requests: number; watches: number; lists: number; deletes: number };
  reset(): void;
  /** Destroy every open connection (watches included); new ones are accepted as before. */
  cut(): void;
  /** A kubeconfig (context `proxied`) that reaches the API server through this proxy. */
  writeKubeconfig(file: string): string;
  close(): Promise<void>;
}

export async function startApiProxy(o: {
  server: string;
  caFile: string;
  token: string;
  /**
   * Sees each request before it is passed on (a fault test can freeze the API server here);
   * 'refuse' drops its connection instead, as an API server that is down would.
   */
  onRequest?: (method: string, path: string) => 'refuse' | void;
}): Promise<ApiProxy> {
  const ca = readFileSync(o.caFile);
  const target = new URL(o.server);
  let requests = 0;
  let watches = 0;
  let lists = 0;
  let deletes = 0;
  const sockets = new Set<Socket>();
  const proxy = createServer((req: IncomingMessage, res) => {
    requests++;
    const url = new URL(req.url ?? '/', 'http://proxy');
    if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') watches++;
    else if (req.method === 'GET' && /\/(secrets|configmaps)$/.test(url.pathname)) lists++;
    if (req.method === 'DELETE') deletes++;
    if (o.onRequest?.(req.method ?? '', url.pathname) === 'refuse') return void req.socket.destroy();
    const up = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host }, ca },
    );
    relay(req, up, res);
  });
  const url = await listenTracked(proxy, sockets);
  return {
    url,
    counts: () => ({ requests, watches, lists, deletes }),
    reset: () => {
      requests = watches = lists = deletes = 0;
    },
    cut: () => {
      for (const s of sockets) s.destroy();
    },
    writeKubeconfig(file) {
      writeFileSync(
        file,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          // Plain HTTP on loopback to the proxy; the proxy verifies the API server's certificate.
          clusters: [{ name: 'proxied', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
          users: [{ name: 'admin', user: { token: o.token } }],
          contexts: [{ name: 'proxied', context: { cluster: 'proxied', user: 'admin' } }],
          'current-context': 'proxied',
        }),
        { mode: 0o600 },
      );
      return file;
    },
    close: () => closeTracked(proxy, sockets),
  };
}

/** Pass `req` on through `up` and its answer back to `res`, headers first (a watch's arrive before its first event). */
export function relay(req: IncomingMessage, up: ClientRequest, res: ServerResponse): void {
  up.on('response', (r) => {
    res.writeHead(r.statusCode ?? 502, r.headers);
    res.flushHeaders();
    r.pipe(res);
    r.on('error', () => res.destroy());
  });
  up.on('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
  res.on('close', () => up.destroy());
  req.pipe(up);
}

/** Listen on a free local port, keeping each open connection in `sockets` (to cut them all at once); the URL. */
export async function listenTracked(proxy: Server, sockets: Set<Socket>): Promise<string> {
  proxy.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
}

/** Close the proxy, cutting the connections it still holds (a watch never ends on its own). */
export function closeTracked(proxy: Server, sockets: Set<Socket>): Promise<void> {
  return new Promise((r) => {
    for (const s of sockets) s.destroy();
    proxy.close(() => r());
  });
}
