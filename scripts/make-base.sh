#!/usr/bin/env bash
# Reproduces checkpoints/base from scratch: SFT on short-horizon gold solutions, then a
# short continuation in which half the examples show the image re-inserted at a step
# boundary (so the policy can use the Re-Reasoning Loop's visual re-grounding).
set -euo pipefail
cd "$(dirname "$0")/.."
npx ivr sft --config configs/sft-base.json --out runs/sft-base "$@"
npx ivr sft --config configs/sft-reground.json --init runs/sft-base/checkpoints/final --stream-offset 128000 --out runs/sft-reground "$@"
rm -rf checkpoints/base
mkdir -p checkpoints
cp -r runs/sft-reground/checkpoints/final checkpoints/base
echo "checkpoints/base written"
