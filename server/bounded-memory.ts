// What the receiver remembers between requests (alerts already forwarded, rejections already
// logged), bounded in both size and age: whoever can post alerts chooses the keys, so memory
// must not grow with what they send. Forgetting early is always safe here; it costs one more
// Temporal call or one more log line, never a second incident.
//
// Two generations, as quick-lru does: writes go to `current`; when it holds half the cap it
// becomes `previous` and the old `previous` is dropped whole. Every operation is O(1) (evicting
// one by one from a Map's front is not: V8 skips the deleted slots on every iteration), the
// newest half of the cap is always kept, and a generation whose newest entry is past the TTL
// is dropped at the next operation.

interface Entry<V> {
  at: number;
  value: V;
}

export class BoundedMemory<V> {
  private current = new Map<string, Entry<V>>();
  private previous = new Map<string, Entry<V>>();
  private currentNewest = -Infinity;
  private previousNewest = -Infinity;
  private readonly half: number;

  constructor(
    readonly maxEntries: number,
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.half = Math.max(1, Math.floor(maxEntries / 2));
  }

  /** Entries held (some may be past the TTL until their generation goes); never over the cap. */
  get size(): number {
    this.sweep();
    return this.current.size + this.previous.size;
  }

  /** The value remembered under `key`, unless it is older than the TTL. */
  get(key: string): V | undefined {
    this.sweep();
    const e = this.current.get(key) ?? this.previous.get(key);
    return e && this.now() - e.at < this.ttlMs ? e.value : undefined;
  }

  set(key: string, value: V): void {
    this.sweep();
    const at = this.now();
    this.previous.delete(key);
    this.current.set(key, { at, value });
    this.currentNewest = Math.max(this.currentNewest, at);
    if (this.current.size >= this.half) {
      this.previous = this.current;
      this.previousNewest = this.currentNewest;
      this.current = new Map();
      this.currentNewest = -Infinity;
    }
  }

  delete(key: string): void {
    this.current.delete(key);
    this.previous.delete(key);
  }

  /** Drop each generation whose every entry is past the TTL. */
  sweep(): void {
    const now = this.now();
    if (this.previous.size > 0 && now - this.previousNewest >= this.ttlMs) this.previous = new Map();
    if (this.current.size > 0 && now - this.currentNewest >= this.ttlMs) this.current = new Map();
  }
}
