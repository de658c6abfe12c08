#!/bin/sh
# Reproduce the embedded default model (checkpoints/default/) from ../shared/data.
#   sh train/reproduce_default.sh            (from the repository root, venv active)
# One run trains all three senses and the fusion from cached frozen features:
# - words: MiniLM (top 2 layers tuned) on MELD train, selected on MELD dev;
# - voice: a head on the Whisper base encoder's states (the ASR's own model) on RAVDESS actors 01-16
#   and EMOVO f1 f2 f3 m1 m2; held out: RAVDESS 17-20 (unseen actors), EMOVO m3 (unseen speaker);
# - face: a head on the expression CNN (checkpoints/face-expression, trained by train.fer on
#   FER2013 train) over FER2013 train, selected on PublicTest;
# - fusion: log-linear pooling of the senses' own heads, trained on single senses and on joined
#   samples (a MELD utterance, a voice and a face of one emotion, train splits only), then each
#   sense's temperature and the fusion weights calibrated on the dev sets (train.calibrate).
# The expression CNN itself: python -m train.fer --data $DATA/fer2013 --out checkpoints/face-expression
# (about 60 min on 2 cores; its sha256 is pinned in mmsent/expression.py).
set -eu
DATA=${DATA:-../shared/data}
CACHE=${CACHE:-/tmp/mmsent-cache}
OUT=${OUT:-checkpoints/default}
FUSION=${FUSION:-log-linear}

python -m train.train --meld "$DATA/meld" --ravdess "$DATA/ravdess" --ravdess-train 1-16 --ravdess-dev 17-20 \
    --emovo "$DATA/emovo" --emovo-dev m3 --fer2013 "$DATA/fer2013" --branches text audio video \
    --text-tune-layers 2 --epochs 4 --joint 8000 --fusion "$FUSION" --cache "$CACHE" --out "$OUT"

python -m train.evaluate --checkpoint "$OUT" --data "meld=$DATA/meld/dev_sent_emo.csv" \
    --data "ravdess=$DATA/ravdess:17-20" --data "emovo=$DATA/emovo:m3" --data "fer2013=$DATA/fer2013/validation" \
    --joint 2000 --cache "$CACHE" --json "$OUT/metrics_dev.json"
