// `ivr report --results FILE [--out report.html] [--png report.png] [--width PX]`
// Renders a bench's results.json into a self-contained HTML report, and optionally a PNG of
// the whole page in headless Chromium (checked for console errors, external requests and
// empty plots).
import { Option, type Command } from 'commander';
import { renderReport, SECTION_IDS } from '../../report/html.js';
import { validateResults } from '../../report/results-schema.js';
import { atomicWriteFile, readJsonFile } from '../../util/fs.js';
import { withExamples } from '../help.js';
import { integer } from '../options.js';

interface Options { results: string; out: string; png?: string; width: number; section?: string }

export function configure(cmd: Command): void {
  cmd
    .description('Self-contained HTML report (inline SVG plots, tables with 95% CIs) from a bench results.json; optionally a PNG of it.')
    .requiredOption('--results <file>', 'results.json written by ivr bench')
    .option('--out <file>', 'HTML report to write', 'report.html')
    .option('--png <file>', 'also render the page to this PNG with headless Chromium')
    .option('--width <px>', 'PNG width in pixels', integer(320), 1200)
    .addOption(new Option('--section <id>', 'render only this section to the PNG').choices(SECTION_IDS))
    .action(async (o: Options) => { process.exitCode = await run(o); });
  withExamples(cmd, [
    'ivr report --results runs/bench/results.json --out runs/bench/report.html',
    'ivr report --results runs/bench/results.json --png headline.png --section headline',
  ]);
}

async function run(o: Options): Promise<number> {
  const file = o.results;
  const results = validateResults(readJsonFile(file, 'results file'), file);
  const out = o.out;
  atomicWriteFile(out, renderReport(results));
  console.log(`wrote ${out}`);
  if (o.png !== undefined) {
    const { renderHtmlToPng } = await import('../../report/render-png.js');
    const r = await renderHtmlToPng(out, o.png, o.width, o.section ? `#${o.section}` : undefined);
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
