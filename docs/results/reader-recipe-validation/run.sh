#!/usr/bin/env bash
# Span-reader recipe trials on the validation split (train on "fit", judge on "validation"), each alone, 20 min.
cd "$(dirname "$0")/../../.."   # the repository root, from any checkout
OUT=runs/reader-recipe
for t in "const-1e-4 constant 1e-4" "linear-1e-4 linear 1e-4" "linear-2e-4 linear 2e-4" "linear-3e-4 linear 3e-4"; do
  set -- $t
  while [ -e /tmp/rag-hold ]; do sleep 5; done
  [ -f $OUT/$1/metrics.jsonl ] && grep -q '"final"' $OUT/$1/metrics.jsonl && continue
  rm -rf $OUT/$1
  echo "$(date -u +%FT%TZ) start $1 load $(cut -d' ' -f1-3 /proc/loadavg)" >> $OUT/log.txt
  ./rag train --reader-only --gold-context paragraph --question-encoder models/all-minilm-l6-v2 --generator models/span-minilm \
    --kb kb/squad --train ../shared/data/squad/dev-v1.1.json --split ../shared/data/splits-squad-kb.json --part fit \
    --batch-size 16 --lr $3 --warmup-steps 100 --scheduler $2 --weight-decay 0.01 --max-grad-norm 1 \
    --max-combined-length 256 --max-minutes 20 --eval-every-minutes 10 --eval-part validation --eval-questions 1000 \
    --eval-sample stride --epochs 10 --threads 2 --log-every 20 --seed 1 --out $OUT/$1 > $OUT/$1.log 2>&1
  echo "$(date -u +%FT%TZ) end $1 rc $? $(grep '"eval"\|"final"' $OUT/$1/metrics.jsonl | jq -c '[.train_minutes,.step,.em,.f1]' | tr '\n' ' ')" >> $OUT/log.txt
done
