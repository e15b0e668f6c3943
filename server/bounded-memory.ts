// What the receiver remembers between requests (alerts already forwarded, rejections already
// logged), bounded in both size and age: whoever can post alerts chooses the keys, so memory
// must not grow with what they send. Forgetting early is always safe here; it costs one more
// Temporal call or one more log line, never a second incident.
//
// lru-cache holds the entries (at most `maxEntries`, the least recently used evicted first, each
// forgotten `ttlMs` after it was set). What this adds: the clock is injectable (tests), and `size`
// counts live entries without making every read a walk over all of them. (To lru-cache a set at
// time 0 never expires: a test clock starts later.)
import { LRUCache } from 'lru-cache';

export class BoundedMemory<V extends NonNullable<unknown>> {
  private readonly cache: LRUCache<string, V>;
  private lastPurge = -Infinity;

  constructor(
    readonly maxEntries: number,
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    // ttlResolution 0: ask the clock on every check (lru-cache otherwise caches it for 1 ms of real time).
    this.cache = new LRUCache<string, V>({ max: maxEntries, ttl: ttlMs, ttlResolution: 0, perf: { now } });
  }

  /**
   * Entries held, never over the cap. Expired entries are dropped here at most once per
   * min(TTL, 1 min): dropping them is a walk over every entry, and the webhook asks on every
   * alert. So an entry may be counted up to a minute past its TTL.
   */
  get size(): number {
    const now = this.now();
    if (now - this.lastPurge >= Math.min(this.ttlMs, 60_000)) {
      this.cache.purgeStale();
      this.lastPurge = now;
    }
    return this.cache.size;
  }

  /** The value remembered under `key`, unless it was set more than the TTL ago. */
  get(key: string): V | undefined {
    return this.cache.get(key);
  }

  set(key: string, value: V): void {
    this.cache.set(key, value);
  }

  delete(key: string): void {
    this.cache.delete(key);
  }
}
