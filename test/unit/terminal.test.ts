// Hostile strings on their way to a terminal and into the Markdown report: release names,
// reasons, CI job names and log lines come from whoever controls a cluster or a project.
import { forTerminal, forTerminalLine } from '../../lib/terminal';
import { md } from '../../report/render';
import { scanTable } from '../../cli/scan-format';
import { renderStatus } from '../../cli/incident-commands';
import type { ScanResult } from '../../activities/release';
import type { RemediationStatus } from '../../workflows/definitions';

const ESC = '\x1b';
const hostile: [string, string, string][] = [
  ['an OSC 8 hyperlink', `${ESC}]8;;https://evil.example${ESC}\\approve${ESC}]8;;${ESC}\\`, 'approve'],
  ['an OSC 8 hyperlink ended by BEL', `${ESC}]8;;https://evil.example\x07ok${ESC}]8;;\x07`, 'ok'],
  ['a window title (OSC 0), unterminated', `job${ESC}]0;pwned`, 'job'],
  ['CSI colour, clear screen, cursor up', `${ESC}[31mred${ESC}[0m${ESC}[2J${ESC}[1A`, 'red'],
  ['a CSI with intermediates', `a${ESC}[?25lb${ESC}[ q`, 'ab'],
  ['8-bit C1 CSI and OSC', `a\x9b31mb\x9d0;title\x9cc`, 'abc'],
  ['other C1 controls (NEL, DCS string)', `a\x85b\x90qsixel\x9cc`, 'abc'],
  ['a bare escape, charset designation, ESC at the end', `a${ESC}(0b${ESC}7c${ESC}`, 'abc'],
  ['C0 controls: BEL, backspace, carriage return, NUL', 'ok\x07\x08\x08\rfail\x00', 'okfail'],
  ['bidi overrides and isolates (Trojan Source)', 'release\u202e\u2066evil\u2069\u202c\u200f', 'releaseevil'],
  ['DEL', 'a\x7fb', 'ab'],
  ['plain Unicode and tabs stay', 'gitlab ✓ naïve\tjob', 'gitlab ✓ naïve\tjob'],
];

describe('forTerminal', () => {
  test.each(hostile)('%s', (_w, input, expected) => {
    expect(forTerminal(input)).toBe(expected);
  });

  test('newlines stay in forTerminal, become spaces in forTerminalLine', () => {
    expect([forTerminal('a\nb'), forTerminalLine('a\nb\tc')]).toEqual(['a\nb', 'a b c']);
  });

  test('linear time on 2 MB of unterminated sequences', () => {
    const start = Date.now();
    for (const s of [`${ESC}]`.repeat(1 << 20), `${ESC}[`.repeat(1 << 19) + ';'.repeat(1 << 20), '\x9d'.repeat(1 << 21)]) forTerminal(s);
    expect(Date.now() - start).toBeLessThan(1000);
  });
});

describe('md: what the Markdown report quotes is literal', () => {
  test.each([
    ['a link', '[click](https://evil.example)', '\\[click\\](https\\://evil.example)'],
    ['an image', '![x](https://evil.example/t.png)', '\\!\\[x\\](https\\://evil.example/t.png)'],
    ['an autolink', 'see https://evil.example and www.evil.example', 'see https\\://evil.example and www\\.evil.example'],
    ['HTML', '<img src=x onerror=alert(1)>', '\\<img src=x onerror=alert(1)\\>'],
    ['an HTML entity', '&lt;b&gt;', '\\&lt;b\\&gt;'],
    ['a code span with backticks', '`rm -rf /`', '\\`rm -rf /\\`'],
    ['emphasis and strikethrough', '*a* _b_ ~~c~~', '\\*a\\* \\_b\\_ \\~\\~c\\~\\~'],
    ['a pipe that would open a table column', 'a | b', 'a \\| b'],
    ['a heading, a list item, an ordered item at the start', '# h', '\\# h'],
    ['a list item', '- item', '\\- item'],
    ['an ordered item', '1. item', '1\\. item'],
    ['a new line that would start a block', 'a\n# b', 'a # b'],
    ['an OSC 8 hyperlink and a bidi override', `${ESC}]8;;https://e${ESC}\\x${ESC}]8;;${ESC}\\\u202ey`, 'xy'],
    ['a backslash', 'a\\b', 'a\\\\b'],
  ])('%s', (_w, input, expected) => {
    expect(md(input)).toBe(expected);
  });
});

describe('CLI output', () => {
  test('scan table: hostile cells are cleaned, and the columns still line up', () => {
    const r: ScanResult = {
      cluster: `prod${ESC}]0;title\x07`,
      namespace: null,
      observedAt: '2026-11-25T00:00:00Z',
      unreadable: [],
      stuck: [
        { namespace: `ns${ESC}[31m`, release: `web\u202eevil`, driver: 'secret', revision: 3, status: 'pending-upgrade', objectName: 'x', stacked: false, firstInstall: false, pendingRevisions: [3], reason: 'r' },
        { namespace: 'other', release: 'api', driver: 'secret', revision: 12, status: `pending-upgrade\x9b2J`, objectName: 'y', stacked: false, firstInstall: false, pendingRevisions: [12], reason: 'r' },
      ],
    };
    const out = scanTable(r);
    // eslint-disable-next-line no-control-regex -- looking for control characters is the point
    expect(out).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
    const lines = out.trimEnd().split('\n');
    expect(lines[1]).toMatch(/^ns {9}webevil {2}3 /);
    const status = lines[0]!.indexOf('STATUS');
    expect(lines.slice(1).map((l) => l.indexOf('pending-upgrade'))).toEqual([status, status]);
    expect(scanTable({ ...r, stuck: [] })).toBe('No stuck Helm releases in any namespace of prod.\n');
  });

  test('status lines: a CI job name or log line cannot act on the terminal or add lines', () => {
    const s = {
      incident: 'i',
      step: 'ci-quiet',
      escalations: 0,
      view: {},
      evidence: [{ at: '2026-11-25T00:00:01.000Z', step: 'ci-quiet', ok: false, summary: `CI busy: job 7 deploy${ESC}]8;;https://evil${ESC}\\click${ESC}]8;;${ESC}\\\n${ESC}[1A${ESC}[2K✓ all clear (running)` }],
    } as unknown as RemediationStatus;
    expect(renderStatus(s)).toBe('00:00:01  ✗ [ci-quiet] CI busy: job 7 deployclick ✓ all clear (running)\n');
  });
});
