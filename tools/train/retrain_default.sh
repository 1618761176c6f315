#!/usr/bin/env bash
# Retrain the default world model (models/default) from nothing, on CPU, in about 10 hours
# of a 2-core machine (the base 5, the characters' stage ~1.3, the sharp stage ~2.4, the
# geometry-conditioned decoder ~1.5).
# Every stage is resumable: run the script again after an interruption
# and finished stages are skipped, the running one continues from its last checkpoint.
#
#   apt-get install -y python3-torch python3-numpy libopenblas0-pthread   # Debian's PyTorch (CPU) + a real BLAS
#   bash tools/train/retrain_default.sh                # data/world, runs/{ae,dit}, models/default
#
# Budget (minutes of wall time, both cores, on a quiet machine): dataset ~4 (+ its geometry maps, ~0.5),
# autoencoder 25 (0 with the committed head start below), encode ~14, DiT 245 in all (the
# committed head start has done all of it: give DIT_MINUTES more to train further; the
# learning-rate schedule spans the whole), export + eval ~6. Override with AE_MINUTES /
# DIT_MINUTES (keep DIT_MINUTES when resuming: the schedule is a fraction of it). The other
# characters' stage: its dataset ~8, masks ~3, encoding 43 episodes ~3, the DiT's warm restart
# 1,500 steps (~40 min at ~1.6 s a step; capped at CHAR_MINUTES of wall time, a rerun with more
# continues the same cosine).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
AE_MINUTES=${AE_MINUTES:-25}
DIT_MINUTES=${DIT_MINUTES:-245}
mkdir -p runs
# Head starts committed by earlier sessions (tools/train/resume/): the autoencoder's weights
# (finished) and the DiT's EMA weights part-way (its minutes count toward DIT_MINUTES), used
# when runs/ has no checkpoint of its own.
for stage in ae dit dit_chars; do
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

# Other characters (issue #19): a dataset with 0-3 walkers per episode (in its frames and its
# geometry maps), where they are (char_masks.ts: the loss weights, and the held-out frames
# without them for quick_eval.py), the latents of its first CHAR_EPISODES episodes, then a
# warm restart of the DiT on them from the finished base run (cosine over CHAR_STEPS steps,
# the characters' latent pixels weighted x4; the run ends after CHAR_STEPS or CHAR_MINUTES).
CHAR_EPISODES=${CHAR_EPISODES:-43}
CHAR_STEPS=${CHAR_STEPS:-1500}
CHAR_MINUTES=${CHAR_MINUTES:-75}
C=data/world_chars
if [ ! -f $C/meta.json ]; then
  npm run dataset -- --characters --out $C --episodes 260 --frames 150 --seed 1 --workers 2 2>&1 | tee runs/dataset_chars.log
fi
[ -f $C/val_nochar.json ] || node --import tsx tools/train/char_masks.ts --data $C
if [ ! -f $C/latents.f32.json ]; then
  (cd tools/train && $PY train_ae.py --data ../../$C --run ../../runs/ae --encode --encode-episodes "$CHAR_EPISODES")
fi
if [ ! -f runs/dit_chars/ckpt.pt ]; then
  mkdir -p runs/dit_chars && cp runs/dit/ckpt.pt runs/dit_chars/ckpt.pt
fi
(cd tools/train && $PY train_dit.py --data ../../$C --run ../../runs/dit_chars --restart-minutes "$CHAR_MINUTES" \
  --restart-steps "$CHAR_STEPS" --restart-lr 2e-4 --warmup 100 --char-weight 4)

# Sharper (issue #19): the autoencoder continued from runs/ae on the characters' dataset
# with their pixels weighted x4 and a Sobel edge loss (SHARP_AE_MINUTES, lr 3e-4), the same
# episodes encoded with it into latents_sharp.f32 (beside the first encoder's latents), and
# a warm restart of the DiT from the characters' stage on those latents (SHARP_STEPS steps,
# capped at SHARP_MINUTES). The default model is this stage's autoencoder decoder + DiT.
SHARP_AE_MINUTES=${SHARP_AE_MINUTES:-70}
SHARP_STEPS=${SHARP_STEPS:-1500}
SHARP_MINUTES=${SHARP_MINUTES:-75}
for stage in ae_sharp dit_sharp; do
  if [ -f "tools/train/resume/$stage.pt" ] && [ ! -f "runs/$stage/ckpt.pt" ]; then
    mkdir -p "runs/$stage" && cp "tools/train/resume/$stage.pt" "runs/$stage/ckpt.pt"
  fi
done
(cd tools/train && $PY train_ae.py --data ../../$C --run ../../runs/ae_sharp --init ../../runs/ae/ckpt.pt \
  --minutes "$SHARP_AE_MINUTES" --lr 3e-4 --char-weight 4 --edge-weight 0.5)
if [ ! -f $C/latents_sharp.f32.json ]; then
  (cd tools/train && $PY train_ae.py --data ../../$C --run ../../runs/ae_sharp --encode --latents latents_sharp.f32 \
    --encode-episodes "$CHAR_EPISODES")
fi
(cd tools/train && $PY train_dit.py --data ../../$C --latents latents_sharp.f32 --run ../../runs/dit_sharp \
  --init ../../runs/dit_chars/ckpt.pt --restart-minutes "$SHARP_MINUTES" --restart-steps "$SHARP_STEPS" \
  --restart-lr 2e-4 --warmup 100 --char-weight 4)

(cd tools/train && $PY export_default.py --data ../../$C --ae ../../runs/ae_sharp --dit ../../runs/dit_sharp \
  --openings-data ../../data/world --out ../../models/default)

# Geometry-conditioned decoder (issue #19): the decoder also reads each frame's geometry map
# at half the frame size (64x64, one ray a pixel: the same rays the DiT's 16x16 map averages)
# in its five plain convs, its last stage widened 16 -> 32; fine-tuned from the sharp stage's
# decoder (new columns zero: the same function at the start) on the DiT's own rollouts of
# ROLLOUT_EPISODES training episodes (2-step sampler, as served) and 25% the encoder's latents
# of the truth, towards the renderer's frames (the characters' pixels x4, Sobel edge + HF
# losses). The DiT, prompts and openings are unchanged.
GEO_MINUTES=${GEO_MINUTES:-70}
ROLLOUT_EPISODES=${ROLLOUT_EPISODES:-40}
[ -f $C/frame_geometry.f32 ] || npm run dataset -- --frame-geometry 2 --out $C
if [ ! -f $C/latents.f32.json ]; then
  (cd tools/train && $PY train_ae.py --data ../../$C --run ../../runs/ae_sharp --encode --encode-episodes "$CHAR_EPISODES")
fi
(cd tools/train && $PY train_dec.py --rollouts --model ../../models/default --data ../../$C --run ../../runs/dec_geo \
  --episodes "$ROLLOUT_EPISODES")
(cd tools/train && $PY train_dec.py --model ../../models/default --data ../../$C --run ../../runs/dec_geo \
  --minutes "$GEO_MINUTES" --geometry --widen-last 32 --char-weight 4 --lr 4e-4 --full-frames-last 0)
cp runs/dec_geo/decoder/config.json runs/dec_geo/decoder/model.safetensors models/default/decoder/
npm run eval
