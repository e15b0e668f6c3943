// serve's external URL: where people and alerts reach it (behind its proxy). One judgement for the
// config (server.externalUrl) and the rules generator, because the URL ends up inside Prometheus
// annotation templates and chat buttons, where a stray `{{` or a query string breaks every link.

/** At most this long: a link in an alert, not a document. */
export const MAX_EXTERNAL_URL = 2048;

/** Why `url` cannot be serve's external URL, or undefined. */
export function externalUrlProblem(url: string): string | undefined {
  if (url.length > MAX_EXTERNAL_URL) return `is longer than ${MAX_EXTERNAL_URL} characters`;
  if (!URL.canParse(url)) return 'is not a URL';
  const u = new URL(url);
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'must be an http or https URL';
  if (u.username || u.password) return 'must not carry a user or password';
  if (url.includes('?') || url.includes('#')) return "must not have a query or fragment (serve's paths are appended to it)";
  if (/[{}\s"'<>\\]/.test(url)) return 'must not contain braces, quotes, angle brackets, backslashes or whitespace';
  return undefined;
}

/** `base` (an external URL) with `path` (starting with /) appended: no doubled slash. */
export const joinUrl = (base: string, path: string): string => base.replace(/\/+$/, '') + path;
