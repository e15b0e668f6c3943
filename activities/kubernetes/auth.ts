// Authentication for client-node's API clients, on one pooled HTTPS agent per cluster.
import { createHash } from 'node:crypto';
import { Agent as HttpsAgent } from 'node:https';
import * as k8s from '@kubernetes/client-node';
import { KubeError } from './errors';

/**
 * client-node makes a new https.Agent for every request: a TLS handshake each time, no keep-alive,
 * and under load dozens of sockets and TLS contexts left for the garbage collector (83 at once at
 * 100 incidents, bench/scale.ts). This authenticates as client-node does, then
 * hands every request of one cluster the same pooled agent, made anew only when the kubeconfig's
 * TLS material changes (an exec plugin's rotated client certificate). Proxy agents stay as made.
 */
export class PooledAuth implements k8s.SecurityAuthentication {
  private pool: { key: string; agent: HttpsAgent } | undefined;

  constructor(private readonly kc: k8s.KubeConfig) {}

  getName(): string {
    return 'default';
  }

  async applySecurityAuthentication(ctx: k8s.RequestContext): Promise<void> {
    await this.kc.applySecurityAuthentication(ctx);
    const made = ctx.getAgent();
    if (!made || made.constructor !== HttpsAgent) return;
    const o = (made as HttpsAgent).options;
    const key = createHash('sha256')
      .update(JSON.stringify([o.ca, o.cert, o.key, o.pfx, o.passphrase, o.rejectUnauthorized, o.servername]))
      .digest('hex');
    if (this.pool?.key !== key) {
      // At most 32 requests in flight per cluster (the rest queue, inside their own timeouts);
      // 8 idle connections kept for the next ones.
      this.pool = { key, agent: new HttpsAgent({ ...o, keepAlive: true, maxSockets: 32, maxFreeSockets: 8 }) };
    }
    ctx.setAgent(this.pool.agent);
  }

  /** An API client of `Type` for the kubeconfig's current cluster, on the pooled agent. */
  client<T>(Type: new (config: k8s.Configuration) => T): T {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new KubeError('kubeconfig has no current cluster', 0);
    return new Type(k8s.createConfiguration({ baseServer: new k8s.ServerConfiguration(cluster.server, {}), authMethods: { default: this } }));
  }
}
