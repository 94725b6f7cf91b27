#!/usr/bin/env bash
# Reproduces checkpoints/base from scratch: one SFT run on short-horizon gold solutions in
# which 30% of the examples show the image re-inserted at a step boundary (so the policy
# can use the Re-Reasoning Loop's visual re-grounding). Resumable: run it again after an
# interruption and it continues from runs/sft-base/checkpoints/latest.
set -euo pipefail
cd "$(dirname "$0")/.."
resume=()
[ -f runs/sft-base/config.json ] && resume=(--resume)
npx ivr sft --config configs/sft-base.json --out runs/sft-base "${resume[@]}" "$@"
rm -rf checkpoints/base.tmp
cp -r runs/sft-base/checkpoints/final checkpoints/base.tmp
rm -rf checkpoints/base
mv checkpoints/base.tmp checkpoints/base
echo "checkpoints/base written"
