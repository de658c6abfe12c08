#!/bin/sh
# Reproduce the embedded default model (checkpoints/default/) from ../shared/data.
#   sh train/reproduce_default.sh            (from the repository root, venv active)
# Stage 1 trains the audio CNN alone on RAVDESS actors 01-16 (selection on 17-20); stage 2 trains
# the text branch (top 2 MiniLM layers tuned from cached hidden states), fusion and heads on MELD train
# + RAVDESS 01-16, starting from stage 1's audio CNN, with selection on MELD dev + RAVDESS 17-20.
set -eu
DATA=${DATA:-../shared/data}
CACHE=${CACHE:-/tmp/mmsent-cache}
WORK=${WORK:-/tmp/mmsent-default}
OUT=${OUT:-checkpoints/default}
COMMON="--ravdess $DATA/ravdess --ravdess-train 1-16 --ravdess-dev 17-20 --audio-channels 16 32 64 64 --cache $CACHE"

python -m train.train $COMMON --ravdess-repeat 1 --branches audio --modalities audio \
    --epochs 120 --patience 120 --lr-audio 3e-3 --lr 3e-3 --out "$WORK/audio"

python -m train.train $COMMON --meld "$DATA/meld" --text-tune-layers 2 --epochs 4 --lr-audio 1e-4 \
    --init "$WORK/audio:encoders.audio." --state "$WORK/state.safetensors" --out "$OUT"

python -m train.evaluate --checkpoint "$OUT" --data "meld=$DATA/meld/dev_sent_emo.csv" \
    --data "ravdess=$DATA/ravdess:17-20" --cache "$CACHE" --json "$OUT/metrics_dev.json"
