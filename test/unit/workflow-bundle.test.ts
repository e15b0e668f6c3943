// The prebuilt workflow bundle keeps its source map's mappings (stack traces still point at our
// .ts lines) and drops the sources' text, which the worker would otherwise hold twice.
import { withoutSourcesContent } from '../../worker/bundle';

const inline = (map: object) => `//# sourceMappingURL=data:application/json;charset=utf-8;base64,${Buffer.from(JSON.stringify(map)).toString('base64')}`;
const decode = (code: string) => JSON.parse(Buffer.from(code.slice(code.lastIndexOf('base64,') + 7).trim(), 'base64').toString('utf8')) as Record<string, unknown>;

test('drops sourcesContent and keeps everything else of the map, and the code as it was', () => {
  const map = { version: 3, file: 'b.js', sources: ['workflows/incident.ts'], names: ['x'], mappings: 'AAAA;AACA', sourcesContent: ['export const x = 1;'] };
  const code = `var a = 1;\nconsole.log(a);\n${inline(map)}`;
  const slim = withoutSourcesContent(code);
  expect(slim.startsWith('var a = 1;\nconsole.log(a);\n//# sourceMappingURL=data:application/json;charset=utf-8;base64,')).toBe(true);
  const { sourcesContent, ...rest } = map;
  expect(sourcesContent).toHaveLength(1);
  expect(decode(slim)).toEqual(rest);
});

test('a bundle without an inline source map is refused (the SDK cannot load one)', () => {
  expect(() => withoutSourcesContent('var a = 1;')).toThrow(/no inline source map/);
});
