#!/usr/bin/env bash
# Reproduce the H200 validation of `roofline hw detect`, `hw measure` and `profile` (issue 7):
#   bash benchmarks/gpu/validate_h200.sh OUTDIR
# Needs a CUDA GPU, torch with CUDA, and roofline importable (pip install '.[nvml]', or
# PYTHONPATH=src with the dependencies present). Writes everything it shows under OUTDIR.
set -uo pipefail
out=${1:?usage: validate_h200.sh OUTDIR}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
rl() { python3 -m roofline "$@"; }

python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))' | tee "$out/env.txt"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee -a "$out/env.txt"

echo "== hw detect"; rl hw detect 2>&1 | tee "$out/detect.txt"
rl hw detect --format json > "$out/detect.json"

echo "== hw measure (full)"
rl hw measure --out "$out/h200-measured.yaml" 2>&1 | tee "$out/measure.txt"
echo "== hw show with the new overlay"
rl hw show h200 --ceilings "$out/h200-measured.yaml" 2>&1 | tee "$out/show_measured.txt"

echo "== profile: plain-torch Llama decode"
rl profile --warmup 2 --steps 3 -o "$out/llama_decode_eager.json.gz" -- python3 examples/llama_decode.py 2>&1 \
  | tee "$out/profile_eager.txt"
echo "== profile: Hugging Face LlamaForCausalLM decode"
rl profile --warmup 2 --steps 3 -o "$out/llama_decode_hf.json.gz" -- python3 examples/llama_decode.py --hf 2>&1 \
  | tee "$out/profile_hf.txt"
echo "== profile: crashing script keeps its exit code"
rl profile --steps 1 --warmup 0 -o "$out/crash.json" -- python3 -c 'raise SystemExit(7)'; echo "exit=$?" | tee "$out/crash_exit.txt"

echo "== GPU-marked tests"
python3 -m pytest -q -p no:cacheprovider -m gpu tests/ 2>&1 | tee "$out/gpu_tests.txt"
