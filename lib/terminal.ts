// Text from outside (release names, reasons, CI job names, log lines) on its way to a terminal:
// escape sequences and control characters are removed, so a hostile string can neither move the
// cursor, rewrite what an operator reads, plant a hyperlink (OSC 8), set the window title, nor
// reorder the line with bidi overrides. Linear time: no pattern here can backtrack.

// ESC or 8-bit C1 introducers, each with what follows it: OSC (ESC ] or 0x9d) and DCS/SOS/PM/APC
// strings up to BEL or ST (ESC \ or 0x9c), or to the end when unterminated; CSI (ESC [ or 0x9b)
// parameters, intermediates and final byte; any other escape and the one character after it.
const SEQUENCES =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?|\x1b[ -/]*[0-~]?/g;
// C0 controls but tab and newline, DEL, C1 controls, and Unicode's invisible direction changers
// (LRM, RLM, ALM, the embeddings, overrides and isolates: the "Trojan Source" characters).
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `s` safe to print to a terminal: escape sequences and control characters removed. */
export function forTerminal(s: string): string {
  return s.replace(SEQUENCES, '').replace(CONTROLS, '');
}

/** One line of it: also no line breaks (a table cell, a status line). */
export function forTerminalLine(s: string): string {
  return forTerminal(s).replace(/[\n\t]/g, ' ');
}
