// The demo drives the test harness (the local stack, the fake GitLab), which the npm package does
// not ship: load it only when `helm-unstuck demo` runs, and say plainly when it is not there.
import type * as Demo from '../demo/demo';

export function loadDemo(): typeof Demo {
  let file: string;
  try {
    file = require.resolve('../demo/demo');
  } catch {
    throw new Error('the demo is not part of the installed package: it runs from a clone of the repository (`npm ci && npm run demo`)');
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily, see above
  return require(file) as typeof Demo;
}
