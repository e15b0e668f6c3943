// The README's first command, end to end: `helm-unstuck demo --yes`.
import { EXIT, main } from '../../client/cli';
import { startTemporal } from './temporal';

test('helm-unstuck demo --yes: a stuck release, a real alert, the runbook, a report; helm upgrades again', async () => {
  const env = await startTemporal();
  try {
    let out = '';
    const code = await main(['demo', '--yes'], { out: (s) => (out += s), err: (s) => (out += s), env: { ...process.env, TEMPORAL_ADDRESS: env.address } });
    expect(code).toBe(EXIT.ok);
    expect(out).toMatch(/the next deploy now fails: Error: UPGRADE FAILED: another operation \(install\/upgrade\/rollback\) is in progress/);
    expect(out).toMatch(/✓ \[unlock\] demo\/shop unlocked \(delete\): revision 3: deleted/);
    expect(out).toMatch(/\| Outcome \| unstuck-and-verified: /);
    expect(out).toMatch(/helm status: revision 2 deployed\nhelm upgrade: succeeds again/);
  } finally {
    await env.teardown();
  }
});
