#!/usr/bin/env bash
# Reproduces checkpoints/base from scratch: one SFT run (configs/sft-base.json) on short-horizon
# gold solutions and scans of the images, 30% of the solutions with the image re-inserted at a
# step boundary (so the policy can use the Re-Reasoning Loop's visual re-grounding).
# Resumable: run it again after an interruption and it continues from
# runs/sft-base/checkpoints/latest. The model card (MODEL_CARD.md) is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
resume=()
[ -f runs/sft-base/config.json ] && resume=(--resume)
npx ivr sft --config configs/sft-base.json --out runs/sft-base "${resume[@]}" "$@"
rm -rf checkpoints/base.tmp
cp -r runs/sft-base/checkpoints/final checkpoints/base.tmp
[ -f checkpoints/base/MODEL_CARD.md ] && cp checkpoints/base/MODEL_CARD.md checkpoints/base.tmp/
rm -rf checkpoints/base
mv checkpoints/base.tmp checkpoints/base
echo "checkpoints/base written"
