#!/usr/bin/env bash
# On a CUDA machine whose image has torch/transformers but not TRL, datasets or DuckDB: install those from wheels
# carried in .gpu-wheels/ (pip download --no-deps ... on the workstation) into a private folder, then run the quick
# preset end to end on the GPU (trainers in bf16, generation and scoring on the GPU) and the default preset's stage
# timing. Prints what it ran on. Usage: bash benchmarks/gpu_smoke.sh [OUTDIR]
set -euo pipefail
out=${1:-/tmp/gpu-smoke}
mkdir -p "$out" /tmp/wb-pkgs
if ls .gpu-wheels/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-deps --no-index --target /tmp/wb-pkgs .gpu-wheels/*.whl
fi
export PYTHONPATH="$PWD:/tmp/wb-pkgs${PYTHONPATH:+:$PYTHONPATH}" TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, transformers, trl, duckdb; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'transformers', transformers.__version__, 'trl', trl.__version__, 'duckdb', duckdb.__version__)"
start=$(date +%s)
python3 -m workbench run --preset quick --root /tmp/wb-gpu-runs 2>&1 | grep -E "^\[workbench\]|^[0-9 ]|^run |iteration  " | tee "$out/quick.txt"
echo "quick preset wall: $(( $(date +%s) - start )) s" | tee -a "$out/quick.txt"
python3 benchmarks/stage_times.py --preset default --root /tmp/wb-gpu-default 2>/dev/null | tail -20 | tee "$out/default_stages.txt"
python3 -m workbench sql --root /tmp/wb-gpu-default "select iteration, name, round(value, 4) as value from metrics where name in ('gold_win_rate','lc_win_rate','gold_utility','rm_reward','kl_to_ref','mean_length_chars','alignment_tax') order by name, iteration" | tee "$out/default_metrics.csv"
