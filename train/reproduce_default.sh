#!/bin/sh
# Reproduce the embedded default model (checkpoints/default/) from ../shared/data.
#   sh train/reproduce_default.sh            (from the repository root, venv active)
# Each sense is trained on the corpora that have it, from cached frozen features, then the senses are
# composed and calibrated (train.calibrate):
# 1. words + voice: MiniLM (top 2 layers tuned) on MELD train; a head on the Whisper base encoder's
#    states (the ASR's own model) on RAVDESS actors 01-16 and EMOVO f1 f2 f3 m1 m2; joined samples
#    (a MELD utterance and a voice of one emotion, train splits only). Selected on MELD dev, RAVDESS
#    17-20 (unseen actors), EMOVO m3 (unseen speaker) and joined dev samples.
# 2. face: a head on the expression CNN (checkpoints/default/face-expression, trained by train.fer on FER2013
#    train) over FER2013 train faces, selected on PublicTest.
# 3. log-linear fusion: the parts composed; each sense's temperature fitted on its own dev split, the
#    fusion weights and priors on all dev sets and on joined dev samples of all three senses.
# The expression CNN itself: python -m train.fer --data $DATA/fer2013 --out checkpoints/default/face-expression
# (64 min on 2 cores; its sha256 is pinned in mmsent/expression.py).
set -eu
DATA=${DATA:-../shared/data}
CACHE=${CACHE:-/tmp/mmsent-cache}
WORK=${WORK:-/tmp/mmsent-default}
OUT=${OUT:-checkpoints/default}
SPEECH="--ravdess $DATA/ravdess --ravdess-train 1-16 --ravdess-dev 17-20 --emovo $DATA/emovo --emovo-dev m3"

python -m train.train --meld "$DATA/meld" $SPEECH --branches text audio --text-tune-layers 2 --epochs 4 \
    --joint 4000 --cache "$CACHE" --out "$WORK/words-voice"

python -m train.train --fer2013 "$DATA/fer2013" --fer2013-every 2 --branches video --modalities video \
    --epochs 3 --cache "$CACHE" --out "$WORK/face"

python -m train.train --meld "$DATA/meld" $SPEECH --fer2013 "$DATA/fer2013" --fer2013-every 2 --branches text audio video \
    --text-tune-layers 2 --epochs 0 --joint 8000 --cache "$CACHE" --out "$OUT" \
    --init "$WORK/words-voice" --init "$WORK/face:encoders.video." --init "$WORK/face:sense_heads.video."

python -m train.evaluate --checkpoint "$OUT" --data "meld=$DATA/meld/dev_sent_emo.csv" \
    --data "ravdess=$DATA/ravdess:17-20" --data "emovo=$DATA/emovo:m3" --data "fer2013=$DATA/fer2013/validation" \
    --joint 2000 --cache "$CACHE" --json "$OUT/metrics_dev.json"
