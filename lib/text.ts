// The constant-time comparison the webhook's bearer token and the approval page's logins share.
import { createHash, timingSafeEqual } from 'node:crypto';

/** Compare two secrets in constant time, whatever their lengths (both are hashed first). */
export function constantTimeEqual(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}
