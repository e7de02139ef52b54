# Sourced by the benches that run a Hugging Face anchor: sets blas_core to the OpenBLAS core the anchor should use.
# Debian's OpenBLAS 0.3.21 does not know every newer CPU model and then falls back to its Prescott kernels: measured on
# an Intel Xeon model 207 (AVX512, AVX512-BF16), PyTorch fp32 matmul 2048^3 ran at 39-65 GFLOP/s with the detected
# core vs 265-314 with OPENBLAS_CORETYPE=Cooperlake. An anchor on a fallback kernel is not what a user would get, so
# where OpenBLAS says Prescott on an AVX512 CPU the anchor runs with the newest AVX512 core it has
# (HF_OPENBLAS_CORETYPE overrides; empty blas_core = OpenBLAS's own choice). Record "${blas_core:-detected}".
blas_core=${HF_OPENBLAS_CORETYPE:-}
if [ -z "$blas_core" ]; then
  blas_detected=$(OPENBLAS_VERBOSE=2 LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread /usr/bin/python3 -c \
    "import torch; torch.ones(2, 2) @ torch.ones(2, 2)" 2>&1 | sed -n 's/^Core: //p' | head -1 || true)
  if [ "$blas_detected" = Prescott ] && grep -q -w avx512f /proc/cpuinfo; then
    blas_core=$(grep -q -w avx512_bf16 /proc/cpuinfo && echo Cooperlake || echo SkylakeX)
    echo "$(basename "$0"): OpenBLAS detects Prescott on this AVX512 CPU; the anchor runs with OPENBLAS_CORETYPE=$blas_core" >&2
  fi
fi
