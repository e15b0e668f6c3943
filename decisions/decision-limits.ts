// How much a person may put into a decision: it is kept in the incident's evidence, its history
// and its report, for as long as those are kept. serve refuses more (naming the field) before it
// signs anything; the workflow bounds what reaches it by any path.

/** A decision's reason, in characters (UTF-16 code units, as JavaScript counts them). */
export const MAX_REASON_CHARS = 1000;
/** The name a decision is made under (`by`), in characters. */
export const MAX_BY_CHARS = 256;
