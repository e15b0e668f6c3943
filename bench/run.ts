// `npm run bench`: every benchmark in turn (or those named: npm run bench -- scan).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const all = ['scan', 'remediation', 'alert-storm', 'hostile', 'detection', 'scale', 'notify'];
const chosen = process.argv.slice(2).length ? process.argv.slice(2) : all;
for (const name of chosen) {
  if (!all.includes(name)) throw new Error(`unknown benchmark "${name}" (known: ${all.join(', ')})`);
  console.error(`bench: ${name}`);
  execFileSync(process.execPath, ['--import', 'tsx', join(__dirname, `${name}.ts`)], { stdio: 'inherit' });
}
