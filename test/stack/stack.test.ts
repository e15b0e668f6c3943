// The local stack itself: each real component is up, is the version we pinned, and behaves as
// production would where later tests depend on it (RBAC enforced, webhooks authenticated).
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startAlertmanager } from './alertmanager';
import { apiRequest } from './control-plane';
import { sharedStack } from './shared';
import { startTemporal } from './temporal';
import { waitFor } from '../wait-for';

const pinned = Object.fromEntries(
  readFileSync(join(__dirname, '..', '..', 'tools', 'versions.env'), 'utf8')
    .split('\n')
    .filter((l) => /^[A-Z0-9_]+=/.test(l))
    .map((l) => l.split('=') as [string, string]),
);

describe('kube-apiserver', () => {
  const stack = sharedStack();
  const ca = readFileSync(stack.caFile);
  const api = (path: string, token = stack.adminToken, opts = {}) =>
    apiRequest(`${stack.server}${path}`, token, ca, opts);

  test('reports the pinned Kubernetes version, so Helm kubeVersion checks work', async () => {
    expect(stack.kubeVersion).toBe(pinned.KUBERNETES_VERSION);
  });

  test('rejects an unknown token', async () => {
    expect((await api('/api/v1/namespaces', 'not-a-token')).status).toBe(401);
  });

  test('enforces RBAC: a service account with no role cannot list Secrets', async () => {
    const sa = `nobody-${Date.now()}`;
    const created = await api('/api/v1/namespaces/default/serviceaccounts', undefined, {
      method: 'POST',
      body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa } },
    });
    expect(created.status).toBe(201);
    const tr = await api(`/api/v1/namespaces/default/serviceaccounts/${sa}/token`, undefined, {
      method: 'POST',
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600 } },
    });
    expect(tr.status).toBe(201);
    const token = (JSON.parse(tr.body) as { status: { token: string } }).status.token;
    const denied = await api('/api/v1/namespaces/default/secrets', token);
    expect(denied.status).toBe(403);
    expect(denied.body).toContain(`system:serviceaccount:default:${sa}`);
  });
});

describe('temporal dev server', () => {
  test('starts from the built CLI through createLocal and serves the default namespace', async () => {
    const env = await startTemporal();
    try {
      const ns = await env.connection.workflowService.describeNamespace({ namespace: 'default' });
      expect(ns.namespaceInfo?.name).toBe('default');
      const info = await env.connection.workflowService.getSystemInfo({});
      expect(info.serverVersion).toMatch(/^1\.29\./);
    } finally {
      await env.teardown();
    }
  });
});

describe('alertmanager', () => {
  test('delivers a fired alert to a webhook as version 4, with the bearer token', async () => {
    const received: { auth: string | undefined; body: { version: string; status: string; alerts: unknown[] } }[] = [];
    const hook = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ auth: req.headers.authorization, body: JSON.parse(body) });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const port = (hook.address() as AddressInfo).port;
    const am = await startAlertmanager({ webhookUrl: `http://127.0.0.1:${port}/hook`, bearerToken: 'tkn-1' });
    try {
      await am.fire([
        {
          labels: { alertname: 'HelmReleaseStuck', cluster: 'local', namespace: 'ns1', label_name: 'rel1' },
          annotations: { summary: 'stuck' },
        },
      ]);
      await waitFor('the webhook posted by Alertmanager', () => received.length);
      expect(received).toHaveLength(1);
      expect(received[0]?.auth).toBe('Bearer tkn-1');
      expect(received[0]?.body).toMatchObject({ version: '4', status: 'firing', receiver: 'helm-unstuck' });
      expect(received[0]?.body.alerts).toHaveLength(1);
    } finally {
      await am.stop();
      hook.close();
    }
  });
});
