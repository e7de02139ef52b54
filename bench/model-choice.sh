#!/usr/bin/env bash
# The CPU-default model choice for the SQuAD-KB experiment (issue: reproduce Table 1), by measurement:
#  1. untrained retrieval recall@1/5/20 on all test questions of the split, and KB encoding speed, for the
#     three Maven-shipped encoders (e5-small-v2, all-minilm-l6-v2, bge-small-en-v1.5);
#  2. the generator under a fixed training budget (original mode, seed 1, same data order), warm-started
#     from all-minilm-l6-v2: plain vs copy head (3 decoder layers, n-docs 5), then 1 decoder layer, n-docs 3.
# Writes OUT/retrievers.jsonl, OUT/<config>/results.json and prints a summary table (needs jq).
# Usage: bench/model-choice.sh [OUT] [BUDGET_MINUTES]     (defaults: runs/model-choice 8)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/model-choice}; BUDGET=${2:-8}
SPLIT=../shared/data/splits-squad-kb.json
mkdir -p "$OUT"

: > "$OUT/retrievers.jsonl"
for enc in all-minilm-l6-v2 e5-small-v2 bge-small-en-v1.5; do
  ./rag models fetch "$enc" > /dev/null
  KB="$OUT/kb-$enc"
  [ -d "$KB" ] || ./rag kb build --input ../shared/data/squad/dev-v1.1.json ../shared/data/squadshifts/new_wiki_v1.0.json --out "$KB" > /dev/null
  enc_json=$(./rag kb encode --kb "$KB" --encoder "models/$enc" --batch 32 2> "$OUT/encode-$enc.log")
  rec_json=$(./rag eval retrieval --kb "$KB" --encoder "models/$enc" --split "$SPLIT" --part test -k 1,5,20 2> /dev/null)
  jq -c -n --arg enc "$enc" --argjson e "$enc_json" --argjson r "$rec_json" '{encoder: $enc, encode: $e, retrieval: $r}' >> "$OUT/retrievers.jsonl"
done

run() { # name, extra flags
  local name=$1; shift
  ./rag experiment squad-kb --split "$SPLIT" --budget-minutes "$BUDGET" --seeds 1 --modes original --out "$OUT/$name" \
    --eval-questions 100 --curve-every 0 "$@" > "$OUT/$name.json" 2> "$OUT/$name.log"
}
run minilm-d3-n5-no-copy --no-copy
run minilm-d3-n5-copy --copy
run minilm-d1-n5-copy --copy --decoder-layers 1
run minilm-d3-n3-copy --copy --n-docs 3

echo "| encoder | recall@1 | recall@5 | recall@20 | KB encode passages/s |"
jq -r '"| \(.encoder) | \(.retrieval.recall["@1"]) | \(.retrieval.recall["@5"]) | \(.retrieval.recall["@20"]) | \(.encode.passages_per_s) |"' "$OUT/retrievers.jsonl"
echo
echo "| generator | steps | loss first→last 10 | EM | F1 | recall@1 | recall@5 | recall@20 |"
for name in minilm-d3-n5-no-copy minilm-d3-n5-copy minilm-d1-n5-copy minilm-d3-n3-copy; do
  jq -r --arg n "$name" '.runs[0] as $r | "| \($n) | \($r.steps) | \($r.loss_first|floor)→\($r.loss_last|floor) | \($r.after.em) | \($r.after.f1) | \($r.after["recall@1"]) | \($r.after["recall@5"]) | \($r.after["recall@20"]) |"' \
    "$OUT/$name/results.json"
done
