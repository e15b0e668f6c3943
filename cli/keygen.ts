// `helm-unstuck keygen`: serve's decision key. The seed is a secret (a mounted Secret, or the
// environment); the public key goes in the configuration's decisionKeys.
import { writeFileSync } from 'node:fs';
import { encodeKey, newSecretKey, publicKeyOf } from '../decisions/decision-proof';
import { CommandError, type CommandIo } from './errors';

export function keygenCommand(o: { output?: string }, io: CommandIo): number {
  const seed = newSecretKey();
  const pub = publicKeyOf(seed);
  if (o.output) {
    try {
      // 'wx': never overwrite a key that may be in use.
      writeFileSync(o.output, `${encodeKey(seed)}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      throw new CommandError(`cannot write ${o.output}: ${(err as Error).message}`);
    }
    io.out(`${pub}\n`);
    io.err(`seed written to ${o.output} (HELM_UNSTUCK_DECISION_KEY_FILE); add the public key above to decisionKeys\n`);
  } else {
    io.out(`${encodeKey(seed)}\n`);
    io.err(`public key (for decisionKeys): ${pub}\n`);
  }
  return 0;
}
