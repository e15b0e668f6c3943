// Keeps serve answering Alertmanager when someone holds connections open without a token. At
// accept time nothing tells Alertmanager from a flood (both may come from one address, a proxy's
// or a node's), so the guard judges connections by what they did: one that sent a request with
// the webhook's or /metrics' bearer token is authenticated and never shed; one that is idle (no
// request under way, nothing sent since its last answer) and not authenticated is shed first, when
// it has been idle for `unauthenticatedIdleTimeoutMs` or when a new connection needs its place
// (per client address, and overall). Only when nothing can be shed is the new connection closed.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Counter, Gauge, type Registry } from 'prom-client';
import { bearerMatches } from './webhook';

export interface GuardSettings {
  maxConnections: number;
  maxConnectionsPerClient: number;
  unauthenticatedIdleTimeoutMs: number;
  webhookToken?: string;
  metricsToken?: string;
}

export interface GuardDeps {
  registry: Registry;
  log: (line: string) => void;
  /** Between two lines about one client's shed connections (default 1 min). */
  logIntervalMs?: number;
}

/** Why a connection was shed: idle too long, closed to make room, or refused (nothing to shed). */
export type ShedReason = 'idle' | 'evicted' | 'refused';

interface Tracked {
  socket: Socket;
  client: string;
  authenticated: boolean;
  inFlight: number;
  /** bytesRead when it last went idle: more since means a request is arriving. */
  readAtIdle: number;
  idleSince: number;
}

export function guardConnections(server: Server, o: GuardSettings, deps: GuardDeps): void {
  const shed = new Counter({ name: 'helm_unstuck_connections_shed_total', help: 'Connections serve closed to keep answering authenticated clients, by reason: idle (unauthenticated, idle past server.unauthenticatedIdleTimeout), evicted (unauthenticated and idle, closed to make room for a new connection), refused (a new connection over the limits with nothing to shed).', labelNames: ['reason'], registers: [deps.registry] });
  for (const reason of ['idle', 'evicted', 'refused'] as const) shed.inc({ reason }, 0);
  const note = shedLog(deps.log, deps.logIntervalMs ?? 60_000);
  const live = new Set<Tracked>(); // in insertion order: oldest first
  const bySocket = new WeakMap<Socket, Tracked>();
  new Gauge({
    name: 'helm_unstuck_connections_open',
    help: 'Connections serve holds, by whether one of their requests carried the webhook\'s or /metrics\' token (authenticated "true") or not.',
    labelNames: ['authenticated'],
    registers: [deps.registry],
    collect() {
      const authenticated = [...live].filter((t) => t.authenticated).length;
      this.set({ authenticated: 'true' }, authenticated);
      this.set({ authenticated: 'false' }, live.size - authenticated);
    },
  });
  const drop = (t: Tracked, reason: ShedReason) => {
    live.delete(t);
    t.socket.destroy();
    shed.inc({ reason });
    note(t.client, reason);
  };
  server.on('connection', (socket: Socket) => {
    const t: Tracked = { socket, client: socket.remoteAddress ?? 'unknown', authenticated: false, inFlight: 0, readAtIdle: 0, idleSince: Date.now() };
    socket.once('close', () => live.delete(t));
    bySocket.set(socket, t);
    if (!makeRoom(live, t.client, o, drop)) return drop(t, 'refused');
    live.add(t);
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    res.once('finish', () => logRefusal(deps.log, req, res));
    const t = bySocket.get(req.socket);
    if (!t) return;
    t.inFlight++;
    if (!t.authenticated && presentsToken(req.headers.authorization, o)) t.authenticated = true;
    res.once('close', () => {
      t.inFlight--;
      [t.readAtIdle, t.idleSince] = [t.socket.bytesRead, Date.now()];
    });
  });
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const t of live) if (sheddable(t) && now - t.idleSince >= o.unauthenticatedIdleTimeoutMs) drop(t, 'idle');
  }, Math.max(100, Math.min(1000, o.unauthenticatedIdleTimeoutMs / 2))).unref();
  server.once('close', () => clearInterval(sweep));
}

/** Every 4xx, one line: what was asked, by whom, and the answer's status; never a header or body. */
function logRefusal(log: (line: string) => void, req: IncomingMessage, res: ServerResponse): void {
  if (res.statusCode < 400 || res.statusCode >= 500) return;
  const path = (req.url ?? '').split('?')[0]!.slice(0, 200);
  log(`answered ${res.statusCode} ${res.statusMessage} to ${req.method} ${JSON.stringify(path)} from ${req.socket.remoteAddress ?? 'unknown'}`);
}

const presentsToken = (header: string | undefined, o: GuardSettings) =>
  [o.webhookToken, o.metricsToken].some((token) => token !== undefined && bearerMatches(header, token));

/** Not authenticated, no request under way, nothing sent since its last answer. */
const sheddable = (t: Tracked) => !t.authenticated && t.inFlight === 0 && t.socket.bytesRead === t.readAtIdle;

/** Shed the oldest sheddable connection where the limits are reached; false if none could go. */
function makeRoom(live: Set<Tracked>, client: string, o: GuardSettings, drop: (t: Tracked, r: ShedReason) => void): boolean {
  const mine = [...live].filter((t) => t.client === client);
  for (const [pool, limit] of [[mine, o.maxConnectionsPerClient], [[...live], o.maxConnections]] as const) {
    if (pool.filter((t) => live.has(t)).length < limit) continue;
    const victim = pool.find((t) => live.has(t) && sheddable(t));
    if (!victim) return false;
    drop(victim, 'evicted');
  }
  return true;
}

/** One line per client and interval: how many of its connections were shed, and why. */
function shedLog(log: (line: string) => void, intervalMs: number): (client: string, reason: ShedReason) => void {
  const pending = new Map<string, { since: number; counts: Record<ShedReason, number> }>();
  return (client, reason) => {
    const now = Date.now();
    const p = pending.get(client) ?? { since: -Infinity, counts: { idle: 0, evicted: 0, refused: 0 } };
    p.counts[reason]++;
    pending.set(client, p);
    if (now - p.since < intervalMs) return;
    const parts = Object.entries(p.counts).filter(([, n]) => n > 0).map(([r, n]) => `${n} ${r}`);
    log(`shed connection(s) from ${client} (${parts.join(', ')}): unauthenticated and idle, or over server.maxConnections(PerClient); next line for this client in ${intervalMs / 1000}s at most`);
    pending.set(client, { since: now, counts: { idle: 0, evicted: 0, refused: 0 } });
    // Bounded: clients not heard of for an interval are forgotten (their next shed logs at once).
    if (pending.size > 10_000) for (const [c, q] of pending) if (now - q.since >= intervalMs) pending.delete(c);
  };
}
