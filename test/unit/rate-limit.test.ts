import { LoginLimiter } from '../../server/rate-limit';

describe('LoginLimiter', () => {
  let t = 0;
  const limiter = () => new LoginLimiter({ perClient: 3, overall: 5, windowMs: 60_000 }, () => t);
  beforeEach(() => (t = 1_000_000));

  test('a client is stopped after its failures, until the window ends; others are not', () => {
    const l = limiter();
    for (let i = 0; i < 3; i++) {
      expect(l.retryAfter('a')).toBe(0);
      l.failed('a');
    }
    expect(l.retryAfter('a')).toBe(60);
    expect(l.retryAfter('b')).toBe(0);
    t += 59_500;
    expect(l.retryAfter('a')).toBe(1);
    t += 500;
    expect(l.retryAfter('a')).toBe(0);
  });

  test('many clients together are stopped by the overall limit', () => {
    const l = limiter();
    for (const c of ['a', 'b', 'c', 'd', 'e']) l.failed(c);
    expect(l.retryAfter('f')).toBe(60);
    t += 60_000;
    expect(l.retryAfter('f')).toBe(0);
  });

  test('memory stays bounded: old windows are swept when the table is full', () => {
    const l = new LoginLimiter({ perClient: 1, overall: 1e6, windowMs: 1000 }, () => t);
    for (let i = 0; i < 10_000; i++) l.failed(`c${i}`);
    expect(l.size).toBe(10_000);
    l.failed('one-more');
    expect(l.retryAfter('one-more')).toBe(0);
    t += 1000;
    l.failed('after');
    expect(l.size).toBe(1);
    expect(l.retryAfter('after')).toBe(1);
  });
});
