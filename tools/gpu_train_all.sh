#!/usr/bin/env bash
# Retrain every shipped model on a GPU machine and leave the archive in $OUT.
#
# Run from the repository root on the GPU machine (torch with CUDA, h5py, scikit-learn,
# scipy, matplotlib; no Qt and no internet needed), with MNIST's four .gz files in
# .data/mnist (git-ignored: copy or carry it there):
#
#     OUT=/some/folder bash tools/gpu_train_all.sh [MINUTES]      # MINUTES defaults to 7
#
# Writes $OUT/shipped-models.tar (< 60 MB), $OUT/train-all.log and $OUT/gpu.txt; the runs
# themselves (training states, about 20 MB a model) stay in a temporary folder.  Back on a
# workstation: latent-explorer install-models shipped-models.tar [--force]
set -euo pipefail
MINUTES="${1:-7}"
OUT="${OUT:?set OUT to the folder that receives the archive}"
DATA="${DATA:-.data/mnist}"
mkdir -p "$OUT"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/latent-explorer-train-all.XXXXXX")"

# The package is imported as latent_explorer; without an installed copy a link to this
# folder under that name stands in for it (the folders app/, models/, training/ and
# checkpoints/ are its subpackages).
if ! python -c "import latent_explorer.app.cli" 2>/dev/null; then
    mkdir -p "$WORK/shim"
    ln -s "$(pwd)" "$WORK/shim/latent_explorer"
    export PYTHONPATH="$WORK/shim${PYTHONPATH:+:$PYTHONPATH}"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1 || true
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())" \
    | tee -a "$OUT/gpu.txt"
python -m latent_explorer.app train all --device cuda --minutes "$MINUTES" --data "$DATA" \
    --out "$WORK/run" 2>&1 | tee "$OUT/train-all.log"
cp "$WORK/run/shipped-models.tar" "$OUT/shipped-models.tar"
ls -l "$OUT"
