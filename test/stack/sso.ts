// Single sign-on for the local stack: a real OpenID provider (tools/go/oidc-provider) and
// oauth2-proxy in front of an upstream the caller names, both on free loopback ports under leash.
// oauth2-proxy passes the signed-in user upstream as X-Forwarded-User, -Email, -Groups and
// -Preferred-Username, and strips those headers when a client sends them; and the provider's ID
// token as Authorization: Bearer, which is what serve verifies.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { binaries, freePort, startServer, waitUntil, type Server } from './process';

export interface SsoUser {
  username: string;
  password: string;
  email: string;
  groups: string[];
}

export interface Sso {
  /** oauth2-proxy's base URL, e.g. http://127.0.0.1:PORT */
  proxyUrl: string;
  /** The provider's issuer URL, http://127.0.0.1:PORT/ */
  issuer: string;
  clientId: string;
  stop(): Promise<void>;
}

export interface SsoOptions {
  /** The URL oauth2-proxy forwards signed-in requests to. */
  upstream: string;
  users: SsoUser[];
  /** A folder for the users file and the two servers' logs. */
  dir: string;
}

const CLIENT_ID = 'helm-unstuck';

/** The flags oauth2-proxy runs with; secrets travel in its environment, not its argv. */
export function oauth2ProxyArgs(o: { proxyUrl: string; issuer: string; upstream: string }): string[] {
  return [
    '--provider=oidc',
    `--oidc-issuer-url=${o.issuer}`,
    `--client-id=${CLIENT_ID}`,
    `--redirect-url=${o.proxyUrl}/oauth2/callback`,
    `--http-address=${new URL(o.proxyUrl).host}`,
    `--upstream=${o.upstream}`,
    '--scope=openid email profile groups',
    '--oidc-groups-claim=groups',
    '--code-challenge-method=S256',
    '--email-domain=*',
    '--pass-user-headers=true',
    // The ID token, as Authorization: Bearer: what serve verifies (the identity headers prove nothing).
    '--pass-authorization-header=true',
    '--set-xauthrequest=true',
    '--skip-provider-button=true',
    // Plain HTTP is for loopback only: the cookie must be sent without TLS here.
    '--cookie-secure=false',
  ];
}

export async function startSso(opts: SsoOptions): Promise<Sso> {
  const bins = await binaries();
  const [opPort, proxyPort] = [await freePort(), await freePort()];
  const issuer = `http://127.0.0.1:${opPort}/`;
  const proxyUrl = `http://127.0.0.1:${proxyPort}`;
  const clientSecret = randomBytes(24).toString('hex');
  const usersFile = join(opts.dir, 'sso-users.json');
  writeFileSync(usersFile, JSON.stringify(opts.users), { mode: 0o600 });

  const servers: Server[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    const op = startServer(
      'oidc-provider',
      bins.oidcProvider,
      ['-issuer', issuer, '-client-id', CLIENT_ID, '-redirect-uri', `${proxyUrl}/oauth2/callback`, '-users-file', usersFile],
      { logFile: join(opts.dir, 'oidc-provider.log'), env: { OIDC_PROVIDER_CLIENT_SECRET: clientSecret } },
    );
    servers.push(op);
    await waitUntil('oidc-provider', async () => (await fetch(`${issuer}.well-known/openid-configuration`)).ok, {
      timeoutMs: 30_000,
      server: op,
    });
    const proxy = startServer('oauth2-proxy', bins.oauth2Proxy, oauth2ProxyArgs({ proxyUrl, issuer, upstream: opts.upstream }), {
      logFile: join(opts.dir, 'oauth2-proxy.log'),
      env: {
        OAUTH2_PROXY_CLIENT_SECRET: clientSecret,
        // 32 characters: an AES-256 key, new for every run.
        OAUTH2_PROXY_COOKIE_SECRET: randomBytes(16).toString('hex'),
      },
    });
    servers.push(proxy);
    await waitUntil('oauth2-proxy', async () => (await fetch(`${proxyUrl}/ping`)).ok, { timeoutMs: 30_000, server: proxy });
  } catch (err) {
    await stop();
    throw err;
  }
  return { proxyUrl, issuer, clientId: CLIENT_ID, stop };
}
