// Issue 25 item 8: the README linked outside the repository (../shared/DESIGN.md, "DESIGN
// §8"), which a clone does not have. Every relative link in README.md and docs/*.md must
// name a file of this repository, and the architecture document is docs/ARCHITECTURE.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const docs = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

test('relative links in README.md and docs/*.md resolve to files inside the repository', () => {
  const bad: string[] = [];
  for (const doc of docs) {
    const text = fs.readFileSync(path.join(ROOT, doc), 'utf8');
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!.split('#')[0]!;
      if (!target || /^[a-z]+:/i.test(target)) continue; // a URL or an in-page anchor
      const abs = path.resolve(ROOT, path.dirname(doc), target);
      if (!abs.startsWith(ROOT + path.sep) || !fs.existsSync(abs)) bad.push(`${doc}: ${m[1]}`);
    }
    if (/\bDESIGN(\.md| §)/.test(text)) bad.push(`${doc}: names DESIGN, which is not in the repository`);
  }
  assert.deepEqual(bad, []);
});

test('docs/ARCHITECTURE.md is the architecture document the README points to', () => {
  const arch = fs.readFileSync(path.join(ROOT, 'docs', 'ARCHITECTURE.md'), 'utf8');
  for (const h of ['## 2. Layers and data flow', '## 7. IVR-R1', '## 8. Evaluation (the standard of evidence)']) assert.ok(arch.includes(h), h);
  assert.match(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'), /\]\(docs\/ARCHITECTURE\.md\)/);
});
