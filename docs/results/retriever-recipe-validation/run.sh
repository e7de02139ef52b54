#!/bin/bash
# Retriever-recipe arms for SQuAD-KB recall@5, judged on validation (fit -> validation; the test split is not read),
# one 30-minute end2end run each, seed 1, on the same VM one after another with nothing else running.
# Arm 2 ran before commit 3d838e9, so the stage key still held lr-retriever and it trained its own 20-minute stage
# (same recipe and seed: 763 steps, gold-passage EM 57.3, against arm 1's 726 steps and 56.8); arm 3 reuses arm 1's.
base="./rag experiment squad-kb --split ../shared/data/splits-squad-kb.json --validation --budget-minutes 30 --seeds 1 \
  --modes end2end --reader-stage-minutes 20 \
  --reader-stage-preset docs/results/reader-recipe-validation/span-reader-stage-3e-4-linear.yaml \
  --eval-questions 1059 --curve-every 0"
$base --indexing-freq 50 --lr-retriever 3e-5 --out runs/val-r-base                      # arm 1: the reference recipe
st=$(ls runs/val-r-base/reader-stage/reader-stage-*.json | head -1)
$base --indexing-freq 50 --lr-retriever 1e-4 --reader-stage-from $st --out runs/val-r-lr1e-4   # arm 2
$base --indexing-freq 100 --lr-retriever 3e-5 --reader-stage-from $st --out runs/val-r-freq100 # arm 3
# arm 4 (a later session): e5-small-v2 as the retriever, the same reader and stage, 15 minutes (what fitted the session);
# --refresh-batch 8 as the arm ran: at the default 32 an e5 refresh then grew past 24 GB and was OOM-killed (README,
# arm 4); since bb8c96d long passages are batched smaller on their own and 32 fits
./rag experiment squad-kb --split ../shared/data/splits-squad-kb.json --validation --budget-minutes 15 --seeds 1 \
  --modes end2end --reader-stage-minutes 20 \
  --reader-stage-preset docs/results/reader-recipe-validation/span-reader-stage-3e-4-linear.yaml \
  --eval-questions 1059 --curve-every 0 --indexing-freq 50 --lr-retriever 3e-5 \
  --retriever e5-small-v2 --generator-from all-minilm-l6-v2 --refresh-batch 8 --reader-stage-from $st --out runs/val-r-e5-15
