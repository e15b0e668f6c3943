// Validation with zod, shared by the workflow bundle, the client, the webhook and the config
// loader: schemas say what is valid, and `problemsOf` turns zod's issues into one plain sentence
// per problem ("policy.ciMaxChecks must be a whole number >= 1"), every problem listed.
import { z } from 'zod';

// zod compiles object parsers with `new Function` unless told not to; the workflow sandbox is
// no place for generated code, and validation is never hot. Set before any schema is built.
z.config({ jitless: true });

export { z };

/** A value for a message: strings quoted and cut short, so hostile input cannot flood a log. */
export function quote(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return Array.isArray(v) ? 'a list' : `a ${typeof v}`;
}

/** Own properties only: a key named `constructor` or `__proto__` is not an entry. */
export function own<V>(record: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

function where(path: readonly PropertyKey[], root: string): string {
  if (path.length === 0) return root;
  return path
    .map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i === 0 ? '' : '.'}${String(k).length > 64 ? `${String(k).slice(0, 64)}…` : String(k)}`))
    .join('');
}

const A_TYPE: Record<string, string> = { object: 'an object', array: 'an array', record: 'a mapping', int: 'a whole number', string: 'a string', number: 'a number', boolean: 'true or false' };

/** Each issue zod finds, as the end of a sentence that starts with where it is. */
function predicate(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type':
      return `must be ${A_TYPE[iss.expected] ?? iss.expected}${iss.input === undefined ? ' (it is missing)' : ''}`;
    case 'too_small':
      if (iss.origin === 'string' || iss.origin === 'array') return Number(iss.minimum) <= 1 ? 'is empty' : `has fewer than ${iss.minimum} ${iss.origin === 'string' ? 'characters' : 'items'}`;
      return `must be ${iss.inclusive ? 'at least' : 'more than'} ${iss.minimum}`;
    case 'too_big':
      if (iss.origin === 'string') return `is too long (more than ${iss.maximum} characters)`;
      if (iss.origin === 'array') return `has more than ${iss.maximum} items`;
      return `must be ${iss.inclusive ? 'at most' : 'less than'} ${iss.maximum}`;
    case 'invalid_value': {
      const vs = iss.values.map((v) => JSON.stringify(v));
      const options = vs.length > 1 ? `${vs.slice(0, -1).join(', ')} or ${vs.at(-1)}` : vs[0];
      return `must be ${options}${iss.input === undefined ? '' : `, not ${quote(iss.input)}`}`;
    }
    case 'unrecognized_keys':
      return `has unknown key${iss.keys.length > 1 ? 's' : ''} ${iss.keys.map(quote).join(', ')}`;
    case 'invalid_key':
      return `is not a valid name: ${iss.issues[0]?.message ?? 'invalid'}`;
    default:
      return undefined;
  }
}

/** Every problem in words, each starting with where it is (`root` for the value itself). */
export function problemsOf(error: z.ZodError, root: string): string[] {
  return error.issues.map((iss) => `${where(iss.path, root)} ${iss.message}`);
}

/** Parse, with our sentences for zod's generic issues. */
export function check<S extends z.ZodType>(schema: S, value: unknown, root: string): { data: z.output<S> } | { problems: string[] } {
  const r = schema.safeParse(value, { error: predicate });
  return r.success ? { data: r.data } : { problems: problemsOf(r.error, root) };
}

/**
 * A string whose validity one function decides, in a sentence: the same function serves callers
 * that do not parse a whole object (activities checking one name).
 */
export function judgedString(problem: (s: string) => string | undefined) {
  return z.string().check((ctx) => {
    const p = problem(ctx.value);
    if (p) ctx.issues.push({ code: 'custom', message: p, input: ctx.value });
  });
}

/**
 * A record keyed by names from outside (clusters, users, labels): `__proto__` is refused rather
 * than silently dropped, and the result answers only for its own keys (`constructor` is not one).
 */
export function ownRecordOf<V extends z.ZodType>(key: z.ZodType<string>, value: V) {
  return z
    .preprocess((raw, ctx) => {
      if (typeof raw === 'object' && raw !== null && Object.hasOwn(raw, '__proto__')) {
        ctx.addIssue({ code: 'custom', message: 'is not allowed as a name', path: ['__proto__'], input: raw });
      }
      return raw;
    }, z.record(key, value))
    .transform((r) => Object.assign(Object.create(null) as Record<string, z.output<V>>, r));
}
