#!/usr/bin/env python3
"""Runs one of ../shared/anchors' Hugging Face scripts with torch.autocast disabled (plain fp32), unchanged otherwise.

On a CPU without native bf16 (e.g. AMD Zen 3: no AVX512-BF16, no AMX) PyTorch emulates bf16 autocast and a
training step takes minutes; a user there trains in fp32, so that is the fair anchor. Usage:
    [HF_THREADS=N] bench/hf_fp32.py ../shared/anchors/span_reader_anchor.py [its arguments...]

HF_THREADS pins torch's intra-op threads: span_reader_anchor.py sets its --threads, but then imports
rag_step_anchor.py, whose own argument defaults set 2 threads again (so "--threads 1" ran on 2; measured).
"""
import contextlib
import os
import runpy
import sys

import torch

torch.autocast = lambda *args, **kwargs: contextlib.nullcontext()  # noqa: E731  (fp32 everywhere)
if os.environ.get("HF_THREADS"):
    torch.set_num_threads(int(os.environ["HF_THREADS"]))
    torch.set_num_threads = lambda n: None  # noqa: E731  (later calls cannot undo the pin)
script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
