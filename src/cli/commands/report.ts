// `ivr report --results FILE [--out report.html] [--png report.png] [--width PX]`
// Renders a bench's results.json into a self-contained HTML report, and optionally a PNG of
// the whole page in headless Chromium (checked for console errors, external requests and
// empty plots).
import * as fs from 'node:fs';
import { renderReport } from '../../report/html.js';
import { validateResults } from '../../report/stats.js';
import { atomicWriteFile } from '../../util/fs.js';
import { parseArgs, usage, UsageError, type OptionSpec } from '../../util/args.js';

const OPTIONS: Record<string, OptionSpec> = {
  results: { type: 'string', help: 'results.json written by ivr bench' },
  out: { type: 'string', help: 'HTML report to write', default: 'report.html' },
  png: { type: 'string', help: 'also render the page to this PNG with headless Chromium' },
  width: { type: 'number', help: 'PNG width in pixels', default: 1200 },
  section: { type: 'string', help: 'render only this section to the PNG (headline, tables, tokens, horizon, grounding, erosion, ivr, provenance)' },
  help: { type: 'boolean', help: 'show this help', default: false },
};

export async function run(argv: string[]): Promise<number> {
  const { options, positional } = parseArgs(argv, OPTIONS);
  if (options.help) {
    console.log(usage('report --results FILE [--out report.html] [--png report.png]', 'Self-contained HTML report (inline SVG plots, tables with 95% CIs) from a bench results.json.', OPTIONS));
    return 0;
  }
  if (positional.length) throw new UsageError(`unexpected argument "${positional[0]}"`);
  const file = options.results as string | undefined;
  if (!file) throw new UsageError('--results FILE is required');
  if (!fs.existsSync(file)) throw new UsageError(`--results: no such file ${file}`);
  let json: unknown;
  try { json = JSON.parse(fs.readFileSync(file, 'utf8')); } catch (e) { throw new Error(`${file}: not valid JSON (${(e as Error).message})`); }
  const results = validateResults(json, file);
  const out = options.out as string;
  atomicWriteFile(out, renderReport(results));
  console.log(`wrote ${out}`);
  if (options.png) {
    const width = options.width as number;
    if (!Number.isInteger(width) || width < 320) throw new UsageError('--width must be an integer >= 320');
    const { renderHtmlToPng } = await import('../../report/render-png.js');
    const section = options.section as string | undefined;
    const r = await renderHtmlToPng(out, options.png as string, width, section ? `#${section}` : undefined);
    console.log(`wrote ${r.png} (${r.width}×${r.height})`);
    const problems = [
      ...r.consoleErrors.map((e) => `console error: ${e}`),
      ...r.pageErrors.map((e) => `page error: ${e}`),
      ...r.externalRequests.map((u) => `blocked external request: ${u}`),
      ...r.svgs.filter((s) => !(s.width > 0 && s.height > 0)).map((s) => `empty plot: ${s.label || '(unlabelled svg)'}`),
      ...(r.overflowX ? ['the page is wider than the viewport'] : []),
    ];
    for (const p of problems) console.error(`ivr report: ${p}`);
    if (problems.length) return 1;
  }
  return 0;
}
