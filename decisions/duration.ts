import { quote, z } from './validation';

/** "45s", "17m", "2h05m", "3d4h": how an SRE says how long. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${h % 24}h`;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "500ms", "30s", "5m", "1h30m", or a number of milliseconds. Undefined if it is not one. */
export function parseDuration(d: string | number): number | undefined {
  if (typeof d === 'number') return Number.isFinite(d) && d >= 0 ? d : undefined;
  const s = d.trim();
  if (s.length > 64 || !/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(s)) return undefined;
  let total = 0;
  for (const [, n, unit] of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(n) * UNIT_MS[unit!]!;
  return total;
}

/** A duration as written in a policy (kept as written: it is part of the workflow's input). */
const notADuration = (iss: { input?: unknown }) => `must be a duration like 30s, 5m or 1h, not ${quote(iss.input)}`;
export const Duration = z.union([z.number(), z.string()], { error: notADuration }).refine((d) => parseDuration(d) !== undefined, { error: notADuration });

/** The same, in milliseconds. */
export const DurationMs = Duration.transform((d) => parseDuration(d)!);
