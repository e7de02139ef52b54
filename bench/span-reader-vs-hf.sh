#!/usr/bin/env bash
# Gold-passage reading speed, side by side: our span reader (rag train --reader-only) and Hugging Face's
# BertForQuestionAnswering (../shared/anchors/span_reader_anchor.py), both warm-started from all-MiniLM-L6-v2, same
# data (SQuAD-KB training questions with their gold paragraph), recipe (batch 16, lr 1e-4, 100 warm-up steps then
# constant, weight decay 0.01, clip 1, dropout 0.1, 256 tokens) and test sample (every 17th of the 5,173 test
# questions, 300), evaluated every 5 training minutes. They run AT THE SAME TIME with THREADS intra-op threads each
# (default 1 on a 2-core machine), so both see the same machine conditions for the whole run. ALONE=1 runs them one
# after the other instead, each alone on the machine with THREADS threads (THREADS=2 ALONE=1: what a user gets from
# each on this 2-core machine; ours first). GROUP=1 trains ours with --group-by-length (batches of similar length:
# less padding; the anchor pads each batch to its longest, as HF's Trainer does without group_by_length).
# OURS_LR / OURS_SCHEDULER change our recipe only (default: the anchor's, lr 1e-4 after warm-up, constant):
# to race ours with a recipe chosen on the validation split against the anchor as shipped; race.json records them.
# The anchor's JSON reports the threads it really used ("threads"); check it equals THREADS.
# PRECISION=fp32 (default) runs the anchor with autocast off (bench/hf_fp32.py): on a CPU without native bf16
# (no AVX512-BF16/AMX) PyTorch's bf16 autocast is emulated and ~15x slower; PRECISION=bf16 runs it as shipped.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${MINUTES:-20}
THREADS=${THREADS:-1}
PRECISION=${PRECISION:-fp32}
ALONE=${ALONE:-0}
GROUP=${GROUP:-0}
OURS_LR=${OURS_LR:-1e-4}
OURS_SCHEDULER=${OURS_SCHEDULER:-constant}
OUT=${OUT:-runs/reader-cmp}
SPLIT=../shared/data/splits-squad-kb.json
mkdir -p "$OUT"
[ -d models/all-minilm-l6-v2 ] || ./rag models fetch all-minilm-l6-v2
[ -d models/span-minilm ] || ./rag models init-generator --type span --from models/all-minilm-l6-v2 --out models/span-minilm
[ -d kb/squad ] || { ./rag kb build --input ../shared/data/squad/dev-v1.1.json ../shared/data/squadshifts/new_wiki_v1.0.json --out kb/squad \
  && ./rag kb encode --kb kb/squad --encoder models/all-minilm-l6-v2; }
export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread OPENBLAS_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS
export HF_THREADS=$THREADS # the anchor's own --threads is overridden when it imports rag_step_anchor.py (bench/hf_fp32.py pins it)
. bench/openblas-core.sh   # blas_core: Debian's OpenBLAS falls back to Prescott on some AVX512 CPUs
anchor=(../shared/anchors/span_reader_anchor.py)
[ "$PRECISION" = fp32 ] && anchor=(bench/hf_fp32.py ../shared/anchors/span_reader_anchor.py)
run_anchor() {
  env ${blas_core:+OPENBLAS_CORETYPE=$blas_core} /usr/bin/python3 "${anchor[@]}" --lr 1e-4 --minutes "$MINUTES" \
    --threads "$THREADS" --out "$OUT/hf.json" > "$OUT/hf.log" 2>&1 || echo "anchor failed: see $OUT/hf.log"
}
run_ours() {
  rm -rf "$OUT/ours"
  ./rag train --reader-only --gold-context paragraph --question-encoder models/all-minilm-l6-v2 --generator models/span-minilm \
    --kb kb/squad --train ../shared/data/squad/dev-v1.1.json --split "$SPLIT" --part train \
    --batch-size 16 --lr "$OURS_LR" --warmup-steps 100 --scheduler "$OURS_SCHEDULER" --weight-decay 0.01 --max-grad-norm 1 \
    --max-combined-length 256 --max-minutes "$MINUTES" --eval-every-minutes 5 --eval-part test --eval-questions 300 \
    --eval-sample stride --epochs 10 --threads "$THREADS" --log-every 20 $([ "$GROUP" = 1 ] && echo --group-by-length) \
    --out "$OUT/ours" > "$OUT/ours.log" 2>&1 \
    || echo "ours failed: see $OUT/ours.log"
}
echo "{\"alone\": $ALONE, \"group_by_length\": $GROUP, \"ours_lr\": \"$OURS_LR\", \"ours_scheduler\": \"$OURS_SCHEDULER\", \"threads\": $THREADS, \"minutes\": $MINUTES, \"hf_precision\": \"$PRECISION\", \"hf_openblas_core\": \"${blas_core:-detected}\", \"started\": \"$(date -u +%FT%TZ)\", \"load_average\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" > "$OUT/race.json"
if [ "$ALONE" = 1 ]; then
  run_ours
  [ "${SKIP_ANCHOR:-0}" = 1 ] || run_anchor  # SKIP_ANCHOR=1: compare with an hf.json already in OUT (same session)
else
  run_anchor &
  hf=$!
  run_ours
  wait $hf
fi
echo "minutes  ours EM/F1   HF EM/F1"
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
ours = [json.loads(l) for l in open(f"{out}/ours/metrics.jsonl") if '"eval"' in l or '"final"' in l]
try:
    hf = json.load(open(f"{out}/hf.json"))["curve"]
except FileNotFoundError:
    hf = [dict(minutes=o["train_minutes"], em=float("nan"), f1=float("nan"), steps="-") for o in ours if o["event"] == "eval"]
for i, h in enumerate(hf):
    o = next((x for x in ours if abs(x.get("train_minutes", 0) - h["minutes"]) < 1.0), None)
    print(f'{h["minutes"]:6.1f}  ' + (f'{100*o["em"]:5.1f}/{100*o["f1"]:5.1f} (step {o["step"]})' if o else '    -/-    ') + f'  {h["em"]:5.1f}/{h["f1"]:5.1f} (step {h["steps"]})')
PY
