// A minimal OpenID issuer for unit tests: discovery and a JWKS on a loopback port, and ID tokens
// signed with its key by jose. The real provider and oauth2-proxy are in test/stack/sso.ts.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';

type SigningKey = Parameters<SignJWT['sign']>[0];

export interface LocalIssuer {
  issuer: string;
  /** An ID token for `claims`, signed with the issuer's key unless `key` says otherwise. */
  token(claims: JWTPayload, o?: { key?: SigningKey; alg?: string; audience?: string; issuer?: string; expiresIn?: string | number }): Promise<string>;
  /** How often the discovery document was fetched. */
  discoveries: number;
  close(): Promise<void>;
}

export async function startLocalIssuer(): Promise<LocalIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  let issuer = '';
  const state = { discoveries: 0 };
  const server: Server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration') {
      state.discoveries++;
      res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}keys` }));
    } else if (req.url === '/keys') res.end(JSON.stringify({ keys: [jwk] }));
    else res.writeHead(404).end('{}');
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    issuer,
    get discoveries() {
      return state.discoveries;
    },
    async token(claims, o = {}) {
      return new SignJWT(claims)
        .setProtectedHeader({ alg: o.alg ?? 'RS256', kid: 'k1' })
        .setIssuer(o.issuer ?? issuer)
        .setAudience(o.audience ?? 'helm-unstuck')
        .setSubject(String(claims.sub ?? claims.preferred_username ?? 'someone'))
        .setIssuedAt()
        .setExpirationTime(o.expiresIn ?? '5m')
        .sign(o.key ?? privateKey);
    },
    close: () => new Promise((ok) => server.close(() => ok())),
  };
}
