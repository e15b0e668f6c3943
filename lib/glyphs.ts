// The marks every human-readable view (CLI, demo, report) puts before a step: one home, so they agree.
export const GLYPHS = { ok: '✓', bad: '✗', info: '•' } as const;

/** ✓ passed, ✗ failed, • neither (a step that is not a pass/fail check). */
export const mark = (ok?: boolean): string => (ok === undefined ? GLYPHS.info : ok ? GLYPHS.ok : GLYPHS.bad);
