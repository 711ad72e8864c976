#!/usr/bin/env bash
# One GPU session's checks and benchmarks, in order of priority; each step has its own time
# limit and writes its JSON under $OUT (default benchmarks/results/gpu) as soon as it ends.
#   bash benchmarks/gpu_session.sh            (on a lent GPU machine; see README "Benchmarks")
# Needs torch + numpy; the IF benchmark also needs diffusers (wheels in .whl/ are installed to
# /tmp/site when present).
set -u
OUT=${OUT:-benchmarks/results/gpu}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
fi
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
step() { local limit=$1; shift; echo "== $* (limit ${limit}s)"; local t0=$SECONDS
  timeout "$limit" "$@"; echo "== rc=$? after $((SECONDS - t0)) s"; }
step 60 python3 benchmarks/cuda_graph_check.py --out "$OUT/cuda_graph_check.json"
step 150 python3 benchmarks/if_unet_step.py --repeats 10 --out "$OUT/if_unet_step.json"
# throughput (naive / ours eager / ours CUDA graph), CFG, then the three fa24 trainings
step 330 python3 benchmarks/run.py --no-cpu --fa24-partb --name gpu --out-dir "$OUT"
