#!/bin/sh
# Reproduce the embedded default model (checkpoints/default/) from ../shared/data.
#   sh train/reproduce_default.sh            (from the repository root, venv active)
# Each sense is trained alone on the corpora that have it, from cached frozen features, and selected
# on its own dev split; then the senses are composed and calibrated (train.calibrate):
# 1. words: MiniLM (top 2 layers tuned), first on GoEmotions train (at most 3,000 comments an emotion;
#    2 epochs, selected on GoEmotions dev), then on MELD train, selected on MELD dev.
# 2. voice: a head on the mean over time of the states after the 4th of the 6 layers of the Whisper base
#    encoder (the ASR's own model; the last layer serves its decoder and generalises less) on
#    RAVDESS actors 01-16 and EMOVO f1 f2 f3 m1 m2, each clip three times an epoch, twice as a perturbed
#    copy (speed, room, noise, gain), selected on RAVDESS 17-20 (unseen actors) and EMOVO m3 (unseen
#    speaker); five such heads, trained apart (seeds 0-4), joined into one voice that reads the mean of
#    their readings (train.ensemble).
#    Its familiarity gate (train.calibrate): the voice keeps its training clips (the mean of their states
#    over their speech, the silence around it left out, as tightly as a video's segments are cut) and
#    flattens the reading of a voice unlike them, beyond the distance of all but 2.5 % of its dev voices.
#    The gate's slope comes from two one-head voices trained the same way, each without one corpus, heard
#    on the corpus they never heard (train.familiarity): joined heads are better calibrated on a corpus
#    they never heard, not on voices none of them can read (real conversation), where they agree.
# 3. face: a head on the expression CNN (checkpoints/default/face-expression, trained by train.fer on
#    FER2013 train) over FER2013 train faces, selected on PublicTest.
# 4. log-linear fusion: the parts composed; each sense's temperature and class biases fitted on its
#    own dev split, the fusion weights and priors on all dev sets and on joined dev samples (a MELD
#    utterance, a voice and a face of one emotion, any two or all three, from the dev splits; in a
#    quarter of those with words, words MELD labels neutral beside a voice or face of any emotion).
# Every step writes over what an earlier run of this script left in $WORK and $OUT (--overwrite).
# The expression CNN itself, in three cycles (64 + 90 + 85 min of training on 2 cores) and the average
# of the last two (its sha256 is pinned in mmsent/expression.py; its card has the figures):
#   python -m train.fer --data $DATA/fer2013 --out /tmp/fer1 --budget-min 64 --widths 48,96,192,384 --blocks 1,1,1,1
#   python -m train.fer --data $DATA/fer2013 --out /tmp/fer2 --state /tmp/fer2.pt \
#       --init /tmp/fer1 --budget-min 90 --lr 0.05 --threads 1 --widths 48,96,192,384 --blocks 1,1,1,1
#   python -m train.fer --data $DATA/fer2013 --out /tmp/fer3/out --state /tmp/fer3/state.pt --final-out /tmp/fer3/final \
#       --init /tmp/fer2 --budget-min 85 --lr 0.03 --threads 1 --widths 48,96,192,384 --blocks 1,1,1,1 --seed 1
#   python -m train.fer --data $DATA/fer2013 --out checkpoints/default/face-expression --soup /tmp/fer2 /tmp/fer3/final \
#       --overwrite   # (replaces the committed one)
set -eu
DATA=${DATA:-../shared/data}
CACHE=${CACHE:-${MMSENT_CACHE:-/tmp/mmsent-cache}}
WORK=${WORK:-/tmp/mmsent-default}
OUT=${OUT:-checkpoints/default}
SPEECH="--ravdess $DATA/ravdess --ravdess-train 1-16 --ravdess-dev 17-20 --emovo $DATA/emovo --emovo-dev m3"

TEXT="--branches text --modalities text --text-tune-layers 2 --cache $CACHE"
python -m train.train --overwrite --goemotions "$DATA/goemotions" --goemotions-cap 3000 $TEXT --epochs 2 --out "$WORK/goemotions"
python -m train.train --overwrite --meld "$DATA/meld" $TEXT --epochs 4 --out "$WORK/words" \
    --init "$WORK/goemotions:encoders.text." --init "$WORK/goemotions:sense_heads.text."

GATE="--voice-bank-layer 4 --familiarity-quantile 0.975"
VOICE="--audio-source whisper-base-layer4 $GATE --audio-augment 2 --branches audio --modalities audio --epochs 8 --cache $CACHE"
HEADS=5
for seed in $(seq 0 $((HEADS - 1))); do
    python -m train.train --overwrite $SPEECH $VOICE --seed "$seed" --out "$WORK/voice-$seed"
done
python -m train.ensemble --out "$WORK/voice" $(seq -f "$WORK/voice-%g" 0 $((HEADS - 1)))
python -m train.train --overwrite --ravdess "$DATA/ravdess" --ravdess-train 1-16 --ravdess-dev 17-20 $VOICE --out "$WORK/voice-ravdess"
python -m train.train --overwrite --emovo "$DATA/emovo" --emovo-dev m3 $VOICE --out "$WORK/voice-emovo"
SLOPE=$(python -m train.familiarity --cache "$CACHE" \
    --voice "$WORK/voice-ravdess" "ravdess=$DATA/ravdess:17-20" "emovo=$DATA/emovo" \
    --voice "$WORK/voice-emovo" "emovo=$DATA/emovo:m3" "ravdess=$DATA/ravdess")

python -m train.train --overwrite --fer2013 "$DATA/fer2013" --fer2013-every 2 --branches video --modalities video \
    --epochs 3 --cache "$CACHE" --out "$WORK/face"

python -m train.train --overwrite --meld "$DATA/meld" $SPEECH --fer2013 "$DATA/fer2013" --fer2013-every 2 --branches text audio video \
    --audio-source whisper-base-layer4 $GATE --voice-members $HEADS --text-tune-layers 2 --epochs 0 --joint 8000 --joint-plain-words 0.25 --familiarity-slope "$SLOPE" \
    --cache "$CACHE" --out "$OUT" \
    --init "$WORK/words:encoders.text." --init "$WORK/words:sense_heads.text." \
    --init "$WORK/voice:encoders.audio." --init "$WORK/voice:sense_heads.audio." \
    --init "$WORK/face:encoders.video." --init "$WORK/face:sense_heads.video."

python -m train.evaluate --checkpoint "$OUT" --data "meld=$DATA/meld/dev_sent_emo.csv" \
    --data "ravdess=$DATA/ravdess:17-20" --data "emovo=$DATA/emovo:m3" --data "fer2013=$DATA/fer2013/validation" \
    --joint 2000 --cache "$CACHE" --json "$OUT/metrics_dev.json"
