// The tests' one way of waiting (test/wait-for.ts) must itself be able to fail, and say why.
import { waitFor } from '../wait-for';

test('returns the first value the predicate accepts', async () => {
  let n = 0;
  expect(await waitFor('n to reach 3', () => ++n, (v) => v >= 3, { intervalMs: 1 })).toBe(3);
});

test('an error from the getter is "not yet"; the wait goes on', async () => {
  let n = 0;
  const flaky = () => {
    if (++n < 3) throw new Error('not listening yet');
    return 'up';
  };
  expect(await waitFor('the server', flaky, (v) => v === 'up', { intervalMs: 1 })).toBe('up');
});

test('past the deadline it fails with what it waited for, the last value seen and the last error', async () => {
  let n = 0;
  const get = () => {
    if (++n % 2 === 0) throw new Error('connection refused');
    return { ready: false, n };
  };
  const err = (await waitFor('the server ready', get, (v) => v.ready, { timeoutMs: 50, intervalMs: 5 }).catch((e: unknown) => e)) as Error;
  expect(err.message).toMatch(/^waiting for the server ready: not so after 50 ms; last seen: \{ ready: false, n: \d+ \}; last error: connection refused$/);
});

test('failIf ends the wait at once, with its reason', async () => {
  const start = Date.now();
  const err = (await waitFor('worker ready', () => '', Boolean, { timeoutMs: 10_000, failIf: () => 'the worker exited (1)' }).catch((e: unknown) => e)) as Error;
  expect(err.message).toBe('waiting for worker ready: the worker exited (1); nothing seen');
  expect(Date.now() - start).toBeLessThan(5_000);
});
