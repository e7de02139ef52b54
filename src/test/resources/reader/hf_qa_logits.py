#!/usr/bin/env python3
"""Start/end logits of a saved span reader computed by Hugging Face transformers' own BertForQuestionAnswering
(v4.40.2 from ../shared/anchors), for the parity test. Loads the state dict strictly, so every tensor name and shape
must be exactly HF's. Usage: hf_qa_logits.py ANCHORS_DIR MODEL_DIR INPUTS_JSON  (prints JSON to stdout)."""
import json
import os
import sys

anchors, model_dir, inputs = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, anchors)
sys.argv = sys.argv[:1]  # rag_step_anchor parses its own arguments at import time
import rag_step_anchor  # noqa: E402,F401  (puts the offline transformers source tree on sys.path)
import torch  # noqa: E402
from safetensors.torch import load_file  # noqa: E402
from transformers import BertConfig, BertForQuestionAnswering  # noqa: E402

cfg = json.load(open(os.path.join(model_dir, "config.json")))
assert cfg["architectures"] == ["BertForQuestionAnswering"], cfg["architectures"]
model = BertForQuestionAnswering(BertConfig(**cfg))
model.load_state_dict(load_file(os.path.join(model_dir, "model.safetensors")), strict=True)
model.eval()
x = json.load(open(inputs))
with torch.no_grad():
    out = model(input_ids=torch.tensor(x["ids"]), attention_mask=torch.tensor(x["mask"]), token_type_ids=torch.tensor(x["types"]))
print(json.dumps({"start": {"data": out.start_logits.flatten().tolist()}, "end": {"data": out.end_logits.flatten().tolist()}}))
