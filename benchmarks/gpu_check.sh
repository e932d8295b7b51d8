#!/usr/bin/env bash
# The GPU check (issue 15): run on a machine with a CUDA GPU, from the repository root, after
#   python3 -m pip install uv && uv venv .venv && uv pip install --python .venv -e ".[dev]"
# It takes under ten minutes on one GPU and prints everything docs/benchmarks.md records:
#   1. the CUDA path of the training loop (float32) and its bf16 autocast path (--amp bf16),
#      each 200 steps of DCGAN-32 on the embedded mnist5k digits with bce + centroid;
#   2. the centroid overhead benchmark on the GPU (VGG-16 features.16, 64×64, random weights);
#   3. where two or more GPUs exist, 2-rank NCCL training under torchrun, checked for
#      bit-identical parameters across ranks (check_consistency).
# Usage: bash benchmarks/gpu_check.sh [OUT_DIR]   (default: gpu-check-<date-time>)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-gpu-check-$(date +%Y%m%d-%H%M%S)}"
PY=.venv/bin/python
CLI=.venv/bin/gan-regularizers
mkdir -p "$OUT"
$PY - <<'PYEOF'
import torch, platform
print("torch", torch.__version__, "cuda", torch.version.cuda, "python", platform.python_version())
assert torch.cuda.is_available(), "no CUDA GPU visible: this script checks the GPU paths"
for index in range(torch.cuda.device_count()):
    print("gpu", index, torch.cuda.get_device_name(index))
PYEOF
for AMP in none bf16; do
  echo "== training on CUDA, amp=$AMP"
  /usr/bin/time -f "wall %e s" $CLI train --device cuda --quiet --out "$OUT/train-$AMP" \
    --set data=mnist5k --set image_size=32 --set steps=200 --set batch_size=64 \
    --set amp=$AMP --set log_every=50 --set checkpoint_every=200 \
    --regularizer centroid:weight=0.1,feature_space=mnist-features
  tail -n 1 "$OUT/train-$AMP/metrics.jsonl"
done
echo "== centroid overhead on the GPU (VGG-16 features.16, 64x64, batch 64)"
$PY benchmarks/centroid_benchmark.py --feature-space vgg16 --size 64 --batch 64 \
  --out "$OUT/centroid_benchmark_cuda.json"
if [ "$($PY -c 'import torch; print(torch.cuda.device_count())')" -ge 2 ]; then
  echo "== 2-rank NCCL training with the consistency check"
  .venv/bin/torchrun --standalone --nproc_per_node=2 -m gan_regularizers train --device cuda \
    --quiet --out "$OUT/train-nccl" --set data=mnist5k --set image_size=32 --set steps=100 \
    --set batch_size=64 --set check_consistency=true --set log_every=50 \
    --regularizer centroid:weight=0.1,feature_space=mnist-features
  tail -n 1 "$OUT/train-nccl/metrics.jsonl"
else
  echo "== one GPU only: the 2-rank NCCL check was not run"
fi
echo "GPU check finished: $OUT"
