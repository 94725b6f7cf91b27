// `ivr report --results FILE [--out report.html] [--png report.png] [--width PX]`
// Renders a bench's results.json into a self-contained HTML report, and optionally a PNG of
// the whole page in headless Chromium (checked for console errors, external requests and
// empty plots).
import * as fs from 'node:fs';
import { Option, type Command } from 'commander';
import { renderReport, SECTION_IDS } from '../../report/html.js';
import { validateResults } from '../../report/results-schema.js';
import { readRun, renderRunReport } from '../../report/run-report.js';
import { atomicWriteFile, readJsonFile } from '../../util/fs.js';
import { withExamples } from '../help.js';
import { integer } from '../options.js';

interface Options { results: string; out: string; png?: string; width: number; section?: string }

export function configure(cmd: Command): void {
  cmd
    .description('Self-contained HTML report (inline SVG plots, tables with 95% CIs) from a bench results.json, or of one training run from its run directory or metrics.jsonl; optionally a PNG of it.')
    .requiredOption('--results <path>', 'results.json written by ivr bench (or ivr demo), or a training run: its directory or its metrics.jsonl')
    .option('--out <file>', 'HTML report to write', 'report.html')
    .option('--png <file>', 'also render the page to this PNG with headless Chromium')
    .option('--width <px>', 'PNG width in pixels', integer(320), 1200)
    .addOption(new Option('--section <id>', 'render only this section to the PNG').choices(SECTION_IDS))
    .action(async (o: Options) => { process.exitCode = await run(o); });
  withExamples(cmd, [
    'ivr report --results runs/bench/results.json --out runs/bench/report.html',
    'ivr report --results runs/bench/results.json --png headline.png --section headline',
    'ivr report --results runs/ivr --out runs/ivr/report.html',
  ]);
}

async function run(o: Options): Promise<number> {
  const file = o.results;
  const out = o.out;
  // A training run (its directory or metrics.jsonl) gets the run report; a results.json the bench report.
  const isRun = file.endsWith('.jsonl') || (fs.existsSync(file) && fs.statSync(file).isDirectory());
  if (isRun) atomicWriteFile(out, renderRunReport(readRun(file)));
  else atomicWriteFile(out, renderReport(validateResults(readJsonFile(file, 'results file'), file)));
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
