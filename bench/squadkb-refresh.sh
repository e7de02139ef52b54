#!/usr/bin/env bash
# End-to-end training on the shared SQuAD-KB split with background KB refreshes (issue: asynchronous re-encoding).
# Needs ../shared and models/all-minilm-l6-v2 + models/gen-minilm-l6 (./rag models fetch all-minilm-l6-v2;
# ./rag models init-generator --from models/all-minilm-l6-v2 --out models/gen-minilm-l6 --decoder-layers 3).
# Then: ./rag train --resume OUT/e2e-squadkb --max-steps 130 for the second refresh.
set -e
cd "$(dirname "$0")/.."
R=${1:-runs/squadkb-refresh}; mkdir -p $R
./rag kb build --input ../shared/data/squad/dev-v1.1.json ../shared/data/squadshifts/new_wiki_v1.0.json --out $R/kb-squad > $R/kb-build.json
./rag kb encode --kb $R/kb-squad --encoder models/all-minilm-l6-v2 --batch 32 --max-len 128 > $R/kb-encode.json 2> $R/kb-encode.log
./rag train --mode end2end --question-encoder models/all-minilm-l6-v2 --generator models/gen-minilm-l6 --kb $R/kb-squad \
  --train ../shared/data/squad/dev-v1.1.json --split ../shared/data/splits-squad-kb.json --part train \
  --n-docs 3 --batch-size 4 --max-combined-length 128 --lr 1e-4 --indexing-freq 10 --refresh-batch 32 --refresh-threads 1 \
  --max-steps 60 --log-every 5 --eval-questions 0 --checkpoint-every 0 --out $R/e2e-squadkb > $R/train.json 2> $R/train.log
