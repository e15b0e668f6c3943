// Who a decision is from, as one person: the two-person rule counts people, not names. Every
// verified name lives in the namespace of how it was verified (`token:alice`, `sso:asmith`),
// case-folded; an operator's `people` map joins the names one person has (`alice: [token:alice,
// sso:asmith]`). A name no one mapped is its own person, known by its bare name, so `token:alice`
// and `sso:alice` count once: two names must never make two approvals for one person by default.
// Pure: the workflow, serve and the activities that act all use it.

/** How a name was verified, as the first part of its principal. */
export const PRINCIPAL_NAMESPACES = ['token', 'sso', 'temporal'] as const;
export type PrincipalNamespace = (typeof PRINCIPAL_NAMESPACES)[number];

/** The operator's map of a person to the principals that are theirs. */
export type People = Readonly<Record<string, readonly string[]>>;

/** A name case-folded the same way everywhere (NFKC, then lower case). */
export const foldName = (name: string): string => name.normalize('NFKC').toLowerCase();

/** `token:alice` for the token user `Alice`. */
export const principalOf = (ns: PrincipalNamespace, name: string): string => `${ns}:${foldName(name)}`;

const PRINCIPAL = /^(token|sso|temporal):(.+)$/;

/** Whether `s` is written as a principal (`token:…`, `sso:…`, `temporal:…`). */
export const isPrincipal = (s: string): boolean => PRINCIPAL.test(s);

/** The person a principal belongs to: the one the operator mapped it to, else its bare name. */
export function personOf(principal: string, people: People = {}): string {
  const p = foldPrincipal(principal);
  for (const [person, names] of Object.entries(people)) {
    if (names.some((n) => foldPrincipal(n) === p)) return foldName(person);
  }
  return p.replace(PRINCIPAL, '$2');
}

function foldPrincipal(p: string): string {
  const m = PRINCIPAL.exec(p);
  return m ? `${m[1]}:${foldName(m[2]!)}` : foldName(p);
}

const GROUP = 'group:';

/**
 * Whether a principal (with the groups its verified proof states) may decide, by the approvers
 * list: `group:sre` matches a group, `token:alice` exactly that principal, and a bare `alice` the
 * person `alice` (a `people` entry, or any principal whose bare name is alice).
 */
export function isApprover(principal: string, groups: readonly string[], approvers: readonly string[], people: People = {}): boolean {
  const person = personOf(principal, people);
  return approvers.some((a) => {
    if (a.startsWith(GROUP)) return groups.includes(a.slice(GROUP.length));
    if (isPrincipal(a)) return foldPrincipal(a) === foldPrincipal(principal);
    return foldName(a) === person;
  });
}

/**
 * Problems with a `people` map, for the configuration's check: a principal may belong to one
 * person only, and each is written with its namespace.
 */
export function peopleProblems(people: People): { person: string; problem: string }[] {
  const problems: { person: string; problem: string }[] = [];
  const owner = new Map<string, string>();
  for (const [person, names] of Object.entries(people)) {
    for (const n of names) {
      if (!isPrincipal(n)) {
        problems.push({ person, problem: `${JSON.stringify(n)} must name its namespace (${PRINCIPAL_NAMESPACES.map((s) => `${s}:NAME`).join(', ')})` });
        continue;
      }
      const p = foldPrincipal(n);
      const other = owner.get(p);
      if (other !== undefined && other !== person) problems.push({ person, problem: `${n} belongs to both ${other} and ${person}` });
      owner.set(p, person);
    }
  }
  return problems;
}
