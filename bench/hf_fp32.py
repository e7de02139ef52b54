#!/usr/bin/env python3
"""Runs one of ../shared/anchors' Hugging Face scripts with torch.autocast disabled (plain fp32), unchanged otherwise.

On a CPU without native bf16 (e.g. AMD Zen 3: no AVX512-BF16, no AMX) PyTorch emulates bf16 autocast and a
training step takes minutes; a user there trains in fp32, so that is the fair anchor. Usage:
    bench/hf_fp32.py ../shared/anchors/span_reader_anchor.py [its arguments...]
"""
import contextlib
import runpy
import sys

import torch

torch.autocast = lambda *args, **kwargs: contextlib.nullcontext()  # noqa: E731  (fp32 everywhere)
script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
