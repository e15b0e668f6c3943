// tools/leash is what keeps a crashed test run from leaving servers behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { LEASH } from '../stack/process';
import { waitFor } from '../wait-for';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
/** What pid runs now, and its children: leash has exec'd the command once its name is the command's. */
const proc = (pid: number) => ({
  name: readFileSync(`/proc/${pid}/comm`, 'utf8').trim(),
  children: readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).length,
});

jest.setTimeout(20_000);

describe('leash', () => {
  let owner: ChildProcess;
  beforeEach(() => {
    owner = spawn('sleep', ['300']);
  });
  afterEach(() => {
    owner.kill('SIGKILL');
  });

  test('runs the command in its own place (same pid), so signals reach the server directly', async () => {
    const leashed = spawn(LEASH, [String(owner.pid), '--', 'sh', '-c', 'echo $$'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    leashed.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    await once(leashed, 'close'); // 'exit' may come before stdout is read; 'close' comes after
    expect(out.trim()).toBe(String(leashed.pid));
  });

  test('kills the command when its owner is SIGKILLed', async () => {
    const leashed = spawn(LEASH, [String(owner.pid), '--', 'sleep', '300'], { stdio: 'ignore' });
    const exited = once(leashed, 'exit') as Promise<[number | null, string | null]>;
    const pid = leashed.pid!;
    // Running the command (exec'd in leash's place), with leash's watcher beside it, before the owner dies.
    await waitFor('leash to exec sleep beside its watcher', () => proc(pid), (p) => p.name === 'sleep' && p.children > 0);
    expect(alive(pid)).toBe(true);
    owner.kill('SIGKILL');
    await once(owner, 'exit');
    await waitFor('the leashed command gone', () => alive(pid), (a) => !a, { timeoutMs: 5000 });
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' });
  });

  test('does not kill the command while its owner lives', async () => {
    const leashed = spawn(LEASH, [String(owner.pid), '--', 'sleep', '2'], { stdio: 'ignore' });
    const [code] = (await once(leashed, 'exit')) as [number | null];
    expect(code).toBe(0);
  });
});
