#!/usr/bin/env bash
# Retrain the default world model (models/default) from nothing, on CPU, in about 5 hours
# of a 2-core machine. Every stage is resumable: run the script again after an interruption
# and finished stages are skipped, the running one continues from its last checkpoint.
#
#   apt-get install -y python3-torch python3-numpy libopenblas0-pthread   # Debian's PyTorch (CPU) + a real BLAS
#   bash tools/train/retrain_default.sh                # data/world, runs/{ae,dit}, models/default
#
# Budget (minutes of wall time, both cores): dataset ~4 (+ its geometry maps, ~0.5),
# autoencoder 25 (0 with the committed head start below), encode ~14, DiT 245 in all (the
# committed head start has done all of it: give DIT_MINUTES more to train further; the
# learning-rate schedule spans the whole), export + eval ~6. Override with AE_MINUTES /
# DIT_MINUTES (keep DIT_MINUTES when resuming: the schedule is a fraction of it).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
AE_MINUTES=${AE_MINUTES:-25}
DIT_MINUTES=${DIT_MINUTES:-245}
mkdir -p runs
# Head starts committed by earlier sessions (tools/train/resume/): the autoencoder's weights
# (finished) and the DiT's EMA weights part-way (its minutes count toward DIT_MINUTES), used
# when runs/ has no checkpoint of its own.
for stage in ae dit; do
  if [ -f "tools/train/resume/$stage.pt" ] && [ ! -f "runs/$stage/ckpt.pt" ]; then
    mkdir -p "runs/$stage" && cp "tools/train/resume/$stage.pt" "runs/$stage/ckpt.pt"
  fi
done

if [ ! -f data/world/meta.json ]; then
  npm run dataset -- --out data/world --episodes 260 --frames 150 --seed 1 --workers 2 2>&1 | tee runs/dataset.log
fi
if [ ! -f data/world/geometry.f32 ]; then  # a dataset from before the geometry maps
  npm run dataset -- --geometry --out data/world
fi
(cd tools/train && $PY train_ae.py --data ../../data/world --run ../../runs/ae --minutes "$AE_MINUTES")
if [ ! -f data/world/latents.f32.json ]; then
  (cd tools/train && $PY train_ae.py --data ../../data/world --run ../../runs/ae --encode)
fi
(cd tools/train && $PY train_dit.py --data ../../data/world --run ../../runs/dit --minutes "$DIT_MINUTES")
(cd tools/train && $PY export_default.py --data ../../data/world --ae ../../runs/ae --dit ../../runs/dit --out ../../models/default)
npm run eval
