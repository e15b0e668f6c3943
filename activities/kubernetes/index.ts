// The Kubernetes adapter: the only code that imports @kubernetes/client-node. The client of one
// cluster (client.ts), its pooled authentication (auth.ts), one request with its timeout
// (request.ts), the errors every failure becomes (errors.ts), and the detector's watch (watch.ts).
export * from './errors';
export * from './client';
export * from './watch';
export { KUBE_REQUEST_TIMEOUT_MS } from './request';
