"""Labelled clips as the analysis serves them: each clip goes through ``mmsent.analyze`` (speech
recognition, segments, the voice of each segment as cut), not through the training features of the
whole file (``train.evaluate``). Its speech segment that the model read (the longest, if several)
gives the answer; a clip that can't be analysed, or gives no such segment, counts as a miss, and a corpus
of which no clip gives an answer is an error.

    python -m train.served --checkpoint checkpoints/default --data ravdess=../shared/data/ravdess:17-20 \
        --data emovo=../shared/data/emovo:m3

Prints, per corpus, the accuracy of the fused answer and of each sense alone, all over the same clips
(every clip of the corpus: one that no figure, or not this sense, answered is a miss), how many clips
each figure read ("read"), how many gave no speech segment or could not be analysed, and the checkpoint's
folder ("checkpoint"); about 0.6 s a clip on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

from mmsent import AnalysisError, CheckpointError, SourceUnavailable, analyze
from mmsent.asr_models import TranscriptionError
from mmsent.checkpoint import checkpoint_folder, load_model
from mmsent.config import AnalysisOptions, HelpFormatter
from mmsent.labels import EMOTIONS, MODALITIES
from mmsent.media import MediaError

from .args import unwritable
from .corpora import CorpusError, read_data_spec, unique_key, user_path
from .evaluate import check_labels
from .metrics import classification_report

log = logging.getLogger(__name__)


def served(model, samples, translate: bool = AnalysisOptions.translate) -> dict:
    """Accuracy of the fused answer and of each sense alone over ``samples`` analysed one by one (speech
    in another language translated into English for the words unless not ``translate``). Every figure
    counts every clip: a clip that gave no answer (unreadable, no speech segment), or no reading of a
    sense, is a miss for it; "read" says how many clips each figure answered."""
    hits = {"fused": 0} | {m: 0 for m in MODALITIES}
    read = dict.fromkeys(hits, 0)
    missing = failed = 0
    probs, labels = [], []
    options = AnalysisOptions(contributions=False, translate=translate)
    for s in samples:
        try:
            segments = analyze(s.media, model, options).segments
        except (MediaError, AnalysisError, TranscriptionError) as e:  # one bad clip: a miss, not the end of the run
            log.warning("left out (counted as a miss): %s", e)
            failed += 1
            continue
        spoken = [g for g in segments if g.kind == "speech" and g.read]  # by any sense: a words-only model's too
        if not spoken:
            log.warning("no speech segment that the model read (counted as a miss): %s", s.media)
            missing += 1
            continue
        g = max(spoken, key=lambda g: g.end - g.start)
        probs.append([g.emotion.get(e, 0.0) for e in EMOTIONS])
        labels.append(s.emotion)
        answers = {"fused": g.emotion} | {m: reading["emotion"] for m, reading in g.per_modality.items()}
        for k, answer in answers.items():
            read[k] += 1
            hits[k] += max(answer, key=answer.get) == EMOTIONS[s.emotion]
    n = len(samples)
    if not read["fused"]:  # figures of nothing are no success: train.evaluate stops here too
        raise CorpusError(f"none of its {n} clips gave an answer ({failed} could not be analysed, {missing} gave no "
                          "speech segment that the model read; each is named above)")
    out = {"n": n, "no_speech_segment": missing, "unreadable": failed,
           "accuracy": {k: round(hits[k] / n, 4) for k in hits if read[k]},  # all over n: like against like
           "read": {k: read[k] for k in hits if read[k]}}
    if labels:  # the fused answer over the clips that gave one, in train.evaluate's layout
        p = np.asarray(probs, np.float64)
        out["emotion"] = classification_report(p / p.sum(axis=1, keepdims=True), np.asarray(labels), EMOTIONS)
    return out


def read_clips(spec: str) -> tuple[str, list]:
    """A --data spec's name and labelled clips; CorpusError where it gives none to analyse (images, words alone)."""
    kind = spec.partition("=")[0]
    if kind in ("fer2013", "ckplus"):
        raise CorpusError(f"--data {spec}: {kind}= gives face images, and the analysis reads videos and sounds; "
                          f"evaluate images with python -m train.evaluate")
    name, samples = read_data_spec(spec)
    clips = [s for s in samples if s.emotion is not None and s.media is not None]
    if not clips:
        raise CorpusError(f"--data {spec}: no clips to analyse (its {len(samples)} samples are words alone); give "
                          f"labelled audio or video (for MELD, its MELD.Raw clip folders beside the CSV)")
    return name, clips


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.served", description=__doc__.split("\n\n")[0],
                                formatter_class=HelpFormatter)
    p.add_argument("--checkpoint", type=user_path, default="default", help="checkpoint folder, or 'default'")
    p.add_argument("--data", action="append", required=True, help="a labelled speech corpus: ravdess=DIR[:ACTORS], "
                   "emovo=DIR[:SPEAKERS], emodb=DIR, cremad=DIR, folders=DIR or meld=PATH.csv with its MELD.Raw clips")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: CUDA when present)")
    p.add_argument("--translate", action=argparse.BooleanOptionalAction, default=AnalysisOptions.translate,
                   help="speech in another language translated into English for the words, as the product does "
                        "(--no-translate keeps it as spoken)")
    p.add_argument("--json", type=user_path, help="also write the figures to this JSON file")
    args = p.parse_args(argv)
    if why := unwritable(args.json, False, "--json"):
        p.error(why)  # before the clips are analysed, not after
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # four lines a clip
    try:
        corpora = [read_clips(spec) for spec in args.data]
    except CorpusError as e:
        p.error(str(e))
    folder = str(checkpoint_folder(args.checkpoint).resolve())
    try:
        model = load_model(args.checkpoint, args.device)
        check_labels(model.config, folder)
    except (CheckpointError, SourceUnavailable, ValueError) as e:  # ValueError: a device this machine lacks
        p.error(str(e))
    report = {}
    for name, samples in corpora:
        name = unique_key(name, report)
        try:
            report[name] = served(model, samples, args.translate) | {"checkpoint": folder}  # which model said it
        except CorpusError as e:
            print(f"error: {name}: {e}", file=sys.stderr)
            return 2
        print(f"{name}: {json.dumps(report[name])}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
