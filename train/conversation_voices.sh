#!/bin/sh
# Unlabelled voices of real conversation, for `python -m train.evaluate --voices DIR`: the 13 utterances
# of the two-speaker telephone call that pyannote-audio ships (cut by its own transcript, sample.stm)
# and the two MELD clips in ../shared/data/clips. Needs pip (the package registry) and sox.
#   sh train/conversation_voices.sh /tmp/voices
set -eu
OUT=${1:?usage: sh train/conversation_voices.sh OUT_DIR}
DATA=${DATA:-../shared/data}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
python -m pip download --quiet --no-deps pyannote.audio==4.0.7 -d "$TMP"
python -m zipfile -e "$TMP"/pyannote_audio-4.0.7-*.whl "$TMP/wheel"
SAMPLE="$TMP/wheel/pyannote/audio/sample"
mkdir -p "$OUT"
i=0
while read -r _ _ speaker start end _; do
    i=$((i + 1))
    sox "$SAMPLE/sample.wav" "$(printf '%s/call_%02d_%s.wav' "$OUT" "$i" "$speaker")" trim "$start" "=$end"
done < "$SAMPLE/sample.stm"
cp "$DATA"/clips/meld_train_dia0_utt0.mp4 "$DATA"/clips/meld_train_dia1_utt0.mp4 "$OUT"/
ls "$OUT" | wc -l
