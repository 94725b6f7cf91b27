#!/usr/bin/env bash
# A resumable RL sweep from checkpoints/base, judged on the VALIDATION split (never test):
# for each config given, `ivr train` into runs/sweep/<name> (resumed if interrupted), then
# `ivr eval --split val` of its final checkpoint; the base is evaluated once the same way.
# Usage: bash scripts/rl-sweep.sh configs/sweep/a.json [configs/sweep/b.json ...]
# Env: SWEEP_OUT (default runs/sweep), VAL_N (instances per family, default 100).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${SWEEP_OUT:-runs/sweep}
n=${VAL_N:-100}
mkdir -p "$out"
ivr() { sh bin/ivr "$@"; }
if [ ! -s "$out/base-val.json" ]; then
  ivr eval --checkpoint checkpoints/base --split val --n "$n" --json > "$out/base-val.json.tmp" && mv "$out/base-val.json.tmp" "$out/base-val.json"
fi
for cfg in "$@"; do
  name=$(basename "$cfg" .json)
  dir="$out/$name"
  method=$(node -e "console.log(JSON.parse(require('fs').readFileSync('$cfg','utf8')).method)")
  if [ ! -f "$dir/checkpoints/final/config.json" ]; then
    resume=()
    [ -f "$dir/config.json" ] && resume=(--resume)
    ivr train --method "$method" --init checkpoints/base --config "$cfg" --out "$dir" --quiet "${resume[@]}"
  fi
  if [ ! -s "$dir/val.json" ]; then
    ivr eval --checkpoint "$dir/checkpoints/final" --split val --n "$n" --json > "$dir/val.json.tmp" && mv "$dir/val.json.tmp" "$dir/val.json"
  fi
  node -e "
    const fs = require('fs');
    const b = JSON.parse(fs.readFileSync('$out/base-val.json', 'utf8')), r = JSON.parse(fs.readFileSync('$dir/val.json', 'utf8'));
    const acc = (e) => (100 * e.accuracy).toFixed(1);
    console.log('$name: val accuracy ' + acc(r) + '% (base ' + acc(b) + '%), by family ' + r.by_split.val.by_family.map((f) => f.family + ' ' + (100 * f.accuracy).toFixed(1)).join(', '));
  " | tee -a "$out/summary.txt"
done
