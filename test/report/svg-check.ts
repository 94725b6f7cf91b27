// A small well-formedness check for the SVG/HTML the report emits: balanced tags, finite
// numeric attributes and path coordinates, no raw '<' in text. Not a full XML parser.
import assert from 'node:assert/strict';

const VOID_HTML = new Set(['meta', 'link', 'br', 'hr', 'img', 'input', 'col', 'area', 'base', 'wbr', 'source']);
const NUMERIC = ['x', 'y', 'x1', 'x2', 'y1', 'y2', 'cx', 'cy', 'r', 'width', 'height'];

export interface TagInfo { name: string; attrs: Record<string, string> }

export function checkMarkup(markup: string, opts: { html?: boolean } = {}): TagInfo[] {
  const stack: string[] = [];
  const tags: TagInfo[] = [];
  const re = /<!--[\s\S]*?-->|<!DOCTYPE[^>]*>|<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+(?:="[^"]*")?)*)\s*(\/?)>/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(markup))) {
    const between = markup.slice(last, m.index);
    assert.ok(!/[<>]/.test(between), `raw < or > in text near: ${JSON.stringify(between.slice(0, 80))}`);
    assert.ok(!/&(?!(amp|lt|gt|quot|#39|#\d+);)/.test(between), `unescaped & in text near: ${JSON.stringify(between.slice(0, 80))}`);
    last = m.index + m[0].length;
    if (m[0].startsWith('<!')) continue;
    const [, close, name, rawAttrs, selfClose] = m as unknown as [string, string, string, string, string];
    const lname = name.toLowerCase();
    if (close) {
      const top = stack.pop();
      assert.equal(top, lname, `closing </${lname}> does not match <${top}>`);
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of rawAttrs.matchAll(/([\w:-]+)(?:="([^"]*)")?/g)) attrs[a[1]!] = a[2] ?? '';
    tags.push({ name: lname, attrs });
    for (const k of NUMERIC) {
      if (attrs[k] !== undefined && !(opts.html && !['svg', 'rect', 'line', 'circle', 'text'].includes(lname))) {
        assert.ok(Number.isFinite(Number(attrs[k])), `<${lname} ${k}="${attrs[k]}"> is not a finite number`);
      }
    }
    if (lname === 'path' && attrs.d !== undefined) {
      assert.match(attrs.d, /^[MLZ0-9.,\-\s]+$/, `path d has unexpected content: ${attrs.d.slice(0, 80)}`);
      for (const n of attrs.d.split(/[MLZ,\s]+/).filter(Boolean)) assert.ok(Number.isFinite(Number(n)), `path coordinate ${n} is not finite`);
    }
    if (lname === 'svg') assert.ok(Number(attrs.width) > 0 && Number(attrs.height) > 0, 'svg must have a positive size');
    if (!selfClose && !(opts.html && VOID_HTML.has(lname))) stack.push(lname);
  }
  assert.ok(!/[<>]/.test(markup.slice(last)), 'raw < or > after the last tag');
  assert.deepEqual(stack, [], `unclosed tags: ${stack.join(', ')}`);
  assert.ok(!/NaN|Infinity/.test(markup.replace(/<text[^>]*>[^<]*<\/text>/g, '')), 'NaN or Infinity in markup');
  return tags;
}

/** The SVG elements of a page, as separate strings. */
export function svgsOf(html: string): string[] {
  return html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
}
