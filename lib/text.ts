// Small helpers the HTML pages and the HTTP service share.
import { createHash, timingSafeEqual } from 'node:crypto';

/** Escape text for HTML content and attribute values. */
export const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Compare two secrets in constant time, whatever their lengths (both are hashed first). */
export function constantTimeEqual(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}
