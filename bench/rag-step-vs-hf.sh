#!/usr/bin/env bash
# One RAG-token training step, back to back on this machine: Hugging Face transformers on PyTorch
# (../shared/anchors/rag_step_anchor.py, fp32 and bf16 autocast) and `rag bench train` (same shapes:
# batch 4 x 5 passages, MiniLM-L6 question encoder, BERT2BERT 6+3 layers, generator input 160, targets 24,
# passages re-encoded in end2end), then the ratios. Each anchor takes ~1 min on 2 idle cores.
# Usage: bench/rag-step-vs-hf.sh [original|end2end|both] [--precision auto|fp32|bf16 for rag]   (HF_BF16=auto|yes|no)
# Setup for the anchor: ../shared/anchors/README.md (apt python3-torch ...). Without torch only rag runs.
set -euo pipefail
cd "$(dirname "$0")/.."
MODES=${1:-both}; shift || true
PRECISION=auto
[ "${1:-}" = "--precision" ] && PRECISION=$2
[ "$MODES" = both ] && MODES="original end2end"
OUT=${OUT:-target/rag-step-vs-hf}; mkdir -p "$OUT"
ANCHOR=../shared/anchors/rag_step_anchor.py

# the Java side's inputs: MiniLM, a BERT2BERT generator with copy head, the demo KB (made once)
wait_quiet() { while [ -e /tmp/rag-quiet ]; do sleep 30; done; }  # a shared machine: let someone's timing run finish first
wait_quiet
[ -d models/all-minilm-l6-v2 ] || ./rag models fetch all-minilm-l6-v2 > /dev/null
[ -d models/gen-minilm-d3-copy ] || ./rag models init-generator --from models/all-minilm-l6-v2 --out models/gen-minilm-d3-copy \
  --decoder-layers 3 --copy > /dev/null
KB=$OUT/kb
if [ ! -f "$KB/current" ]; then
  rm -rf "$KB"
  ./rag kb build --input data/demo/squad-demo.json --out "$KB" > /dev/null
  ./rag kb encode --kb "$KB" --encoder models/all-minilm-l6-v2 > /dev/null 2>&1
fi
./rag bench roofline > "$OUT/roofline.json" 2> /dev/null

have_torch=0
if LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread /usr/bin/python3 -c "import torch" 2> /dev/null; then have_torch=1
else echo "rag-step-vs-hf: python3 cannot import torch (see ../shared/anchors/README.md); running rag only" >&2; fi

# HF's bf16 autocast only means something on bf16 hardware: without it PyTorch emulates bf16 (one step took 118 s on a
# Zen 3), so by default (HF_BF16=auto) that anchor runs only where /proc/cpuinfo has amx_bf16 or avx512_bf16
hf_bf16=0
case "${HF_BF16:-auto}" in
  yes) hf_bf16=1 ;;
  auto) grep -q -E 'amx_bf16|avx512_bf16' /proc/cpuinfo && hf_bf16=1
        [ $hf_bf16 = 0 ] && echo "rag-step-vs-hf: no bf16 hardware here: HF bf16 anchor skipped (HF_BF16=yes runs it)" >&2 ;;
esac

[ $have_torch = 1 ] && . bench/openblas-core.sh  # sets blas_core (Prescott fallback on AVX512 CPUs)
anchor() { # mode precision
  wait_quiet
  env LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread OPENBLAS_NUM_THREADS=2 ${blas_core:+OPENBLAS_CORETYPE=$blas_core} \
    /usr/bin/python3 "$ANCHOR" --mode "$1" \
    --precision "$2" --warmup 2 --steps 5 2> "$OUT/hf-$1-$2.log" | tail -1
}
for mode in $MODES; do
  echo "uptime before $mode: $(uptime)" >&2
  hf32=null; hf16=null
  if [ $have_torch = 1 ]; then
    anchor "$mode" fp32 > "$OUT/hf-$mode-fp32.json"; hf32=$(cat "$OUT/hf-$mode-fp32.json")
    if [ "$hf_bf16" = 1 ]; then anchor "$mode" bf16 > "$OUT/hf-$mode-bf16.json"; hf16=$(cat "$OUT/hf-$mode-bf16.json"); fi
  fi
  wait_quiet
  ./rag bench train --mode "$mode" --question-encoder models/all-minilm-l6-v2 --generator models/gen-minilm-d3-copy --kb "$KB" \
    --train data/demo/squad-demo.json --n-docs 5 --batch-size 4 --max-combined-length 160 --max-target-length 24 \
    --precision "$PRECISION" --warmup 2 --steps 5 2> "$OUT/rag-$mode.log" > "$OUT/rag-$mode.json"
  jq -c -n --arg mode "$mode" --argjson hf32 "$hf32" --argjson hf16 "$hf16" --slurpfile rag "$OUT/rag-$mode.json" \
     --slurpfile roof "$OUT/roofline.json" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" --arg blas "${blas_core:-detected}" '
    ($rag[0].seconds_per_step.total) as $r
    | {mode: $mode, load_average: $load, hf_openblas_core: $blas,
       rag_s_per_step: $r, rag_precision: $rag[0].roofline.precision.used, rag_roofline_share: $rag[0].roofline.share,
       hf_fp32_s_per_step: $hf32.seconds_per_step.total, hf_bf16_s_per_step: $hf16.seconds_per_step.total,
       speedup_vs_hf_fp32: (if $hf32 == null then null else ($hf32.seconds_per_step.total / $r * 100 | round / 100) end),
       speedup_vs_hf_bf16: (if $hf16 == null then null else ($hf16.seconds_per_step.total / $r * 100 | round / 100) end),
       roofline_fp32_gflops: $roof[0].fp32_gflops, cpu: $roof[0].cpu, cpu_flags: $roof[0].cpu_flags}'
done
