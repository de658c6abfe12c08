"""Evaluate a checkpoint on labelled corpora in their published layouts (MELD, RAVDESS, EMO-DB, CREMA-D, FER2013, ...).

    python -m train.evaluate --checkpoint checkpoints/default \
        --data meld=../shared/data/meld/dev_sent_emo.csv --data ravdess=../shared/data/ravdess:17-20 \
        --json /tmp/metrics.json --png-dir /tmp/confusion

Writes ``{"<corpus>": {"emotion": {"accuracy", "weighted_f1", "macro_f1", "ece", "per_class",
"confusion", "n"}, "sentiment": {...}, "spec", "checkpoint", "seen_in_training"}}``; a corpus without
sentiment labels has no "sentiment" key. "per_class" gives each class's "precision", "recall", "f1" and
"support", null where undefined: recall and F1 of a class with no sample, precision of one never answered.
"spec" is the --data spec the corpus was read from (ravdess and ravdess-2 told apart), "checkpoint" the
checkpoint's folder, and "seen_in_training" the speakers
or splits of the corpus that the checkpoint's config.json records it was trained or selected on
("trained", "dev"; null where none are, or its metadata can't tell), also a warning in the log.
``--words cremad`` (or a file of sentences) adds "<corpus>+words": every clip and image again with
each sentence as its words, to see how the answer fares when the words carry no emotion; ``--voices
DIR`` (unlabelled utterances, one file each) adds "<corpus>+voices": every labelled utterance's words
again beside each of those voices, to see what voices the model can't read cost the words.
Features are computed with the same code as training and inference (``train.extract``); pass
``--cache DIR`` to keep them between runs. A corpus name used twice gets a suffix (meld, meld-2).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from mmsent.checkpoint import CheckpointError, checkpoint_folder, load_model, model_config, pick_device, read_config
from mmsent.config import HelpFormatter
from mmsent.labels import EMOTIONS, MODALITIES, MODALITY_NAMES, SENTIMENTS
from mmsent.weights import SourceUnavailable

from .calibrate import grid_end, grid_temperature
from .args import DEFAULT_CACHE, number, unwritable
from .corpora import CorpusError, Sample, read_data_spec, unique_key, user_path
from .data import available, predict_logits, softmax
from .extract import MAX_CLIP_SECONDS, extract_all
from .heldout import not_held_out, seen_in_training, trained_on
from .joint import TEXT_CORPORA, joint_samples
from .metrics import classification_report, save_confusion_png
from .speech_corpora import CREMAD_SENTENCES, read_voices

log = logging.getLogger(__name__)

JOINT_SEED = 12345  # the joined evaluation set is the same for every checkpoint


def check_labels(config, folder) -> None:
    """Raise CheckpointError for a model (its ``config``) whose heads answer other labels than mmsent.labels' (other
    names, another order): the corpora's labels are indices of those, and its figures would score what it does not
    answer."""
    for head, ours in (("emotions", EMOTIONS), ("sentiments", SENTIMENTS)):
        theirs = list(getattr(config, head))
        if theirs != list(ours):
            raise CheckpointError(f"{folder}: its {head} are {theirs}; train.evaluate and train.served score the "
                                  f"{len(ours)} MELD {head} {list(ours)}, in that order: give a model whose heads "
                                  "answer them (as python -m train.train trains)")


def corpus_report(model, samples: list[Sample], caches, modalities=MODALITIES) -> dict:
    """Emotion (and, where labelled, sentiment) figures of a model on one corpus's samples."""
    logits = predict_logits(model, samples, caches, modalities=modalities)
    used = logits["mask"]
    out = {}
    for head, names in (("emotion", model.config.emotions), ("sentiment", model.config.sentiments)):
        rows = np.array([getattr(s, head) is not None for s in samples], bool)
        if not rows.any():
            continue
        labels = np.array([getattr(s, head) for s in samples if getattr(s, head) is not None])
        out[head] = classification_report(softmax(logits[head][rows]), labels, names)
        out[head]["per_modality"] = {}  # each sense alone, on the samples where it was present
        for m in MODALITIES:
            own = logits.get(f"{m}/{head}")
            present = used[rows, MODALITIES.index(m)] if own is not None else np.zeros(rows.sum(), bool)
            if present.any():
                alone = own[rows][present]
                r = classification_report(softmax(alone), labels[present], names)
                out[head]["per_modality"][m] = {k: r[k] for k in ("accuracy", "weighted_f1", "macro_f1", "ece", "n")}
                # > 1: this sense is over-confident on this corpus by about that factor
                t = grid_temperature(alone, labels[present])
                out[head]["per_modality"][m]["temperature_here"] = t
                # an end of the grid searched, not a fitted value: the best temperature is that or beyond
                out[head]["per_modality"][m]["temperature_here_at_bound"] = grid_end(t)
                if f"{m}/distance" in logits:  # how unlike the training voices, and how many are doubted
                    d = logits[f"{m}/distance"][rows][present]
                    out[head]["per_modality"][m]["distance_median"] = float(np.median(d))
                    out[head]["per_modality"][m]["doubted_share"] = float(np.mean(d > float(model.encoders[m].gate[0])))
    if not out:
        raise CorpusError("the corpus has no labelled samples to evaluate")
    n_used = used.sum(axis=0) if len(used) else np.zeros(len(MODALITIES))
    for head in out.values():  # how many samples each branch was fed into
        head["modalities_used"] = {m: int(n_used[i]) for i, m in enumerate(MODALITIES)}
    return out


def unreadable(sample: Sample, caches, own_words: bool = True, senses=MODALITIES) -> bool:
    """A sample whose clip, image or given voice gave no usable sound or face of ``senses`` (damaged, silent,
    too long, a git-lfs pointer, or only senses not read): left out of the figures, never answered from its
    file name's words, words given to it (``with_words``) or the prior alone. MELD's utterances keep their own
    words (``own_words``): the words are the utterance there."""
    if sample.media is None and not sample.parts:  # words alone (MELD without clips, GoEmotions)
        return "text" not in senses
    ok = {m: usable and m in senses for m, usable in zip(MODALITIES, available(sample, caches))}
    return not (ok["audio"] or ok["video"]) and not (own_words and sample.corpus in TEXT_CORPORA and ok["text"])


def drop_unreadable(sets: dict[str, list[Sample]], caches, left_out: dict[str, int], own_words: bool = True,
                    senses=MODALITIES) -> None:
    """Leave each set's unreadable samples out (counted in ``left_out``, the first files named in the log); a
    set with none readable is an error. ``own_words``: whether the sets' words are their samples' own (not those
    of ``with_words`` or ``with_voices``, which measure the sound and face beside them); ``senses``: those read."""
    for key, samples in sets.items():
        bad = [unreadable(s, caches, own_words, senses) for s in samples]
        lost, keep = [s for s, b in zip(samples, bad) if b], [s for s, b in zip(samples, bad) if not b]
        if lost:
            left_out[key] = len(lost)
            log.warning("%s: %d of %d clips or images gave no usable sound or face; left out: %s%s", key,
                        len(lost), len(samples), ", ".join(str(s.media or s.id) for s in lost[:SHOWN]),
                        f" and {len(lost) - SHOWN} more" if len(lost) > SHOWN else "")
            if not keep and all(s.media is None and not s.parts for s in samples):  # MELD without clips, GoEmotions
                reads = " and the ".join(MODALITY_NAMES[m] for m in senses)
                raise CorpusError(f"{key}: its {len(samples)} samples are words alone, which this model does not read "
                                  f"(it reads the {reads}): leave it out, or evaluate a model trained on the words")
            if not keep:
                reads = [name for m, name in (("audio", "sound"), ("video", "faces")) if m in caches and m in senses]
                why = (f"damaged, silent, over {MAX_CLIP_SECONDS:.0f} s, git-lfs pointers (fetch them with `git lfs "
                       f"pull`), or without the {' or '.join(reads)} that this model reads" if reads
                       else "this model reads neither sound nor faces here")
                raise CorpusError(f"{key}: none of its {len(samples)} files could be read ({why})")
            sets[key] = keep


SHOWN = 10  # files named where some are left out


def with_words(samples: list[Sample], sentences: list[str]) -> list[Sample]:
    """Each sample that has a clip or an image, once with each sentence as its words (its voice and
    face its own): how the answer fares when the words carry no emotion."""
    return [replace(s, id=f"{s.id}@words{k}", text=t, context=(),
                    parts=tuple((m, s.feature_id(m)) for m in ("audio", "video")))
            for s in samples if s.media is not None for k, t in enumerate(sentences)]


def with_voices(samples: list[Sample], voices: list[Sample]) -> list[Sample]:
    """Each labelled sample that has words, once with each of ``voices`` as its sound (its label and
    words its own, no face): what a voice unrelated to the label costs the words."""
    return [replace(s, id=f"{s.id}@{v.id}", media=None, has_video=False,
                    parts=(("text", s.feature_id("text")), ("audio", v.feature_id("audio"))))
            for s in samples if s.text for v in voices]


def read_sentences(spec: str) -> list[str]:
    """--words: "cremad" (its twelve sentences) or a UTF-8 text file, one sentence a line."""
    if spec == "cremad":
        return list(CREMAD_SENTENCES.values())
    try:
        lines = [line.strip() for line in Path(spec).read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as e:
        raise CorpusError(f"--words {spec}: can't read it ({e}); give a UTF-8 text file, one sentence a line, "
                          "or 'cremad'") from e
    if not lines:
        raise CorpusError(f"--words {spec}: the file has no sentences (one a line)")
    return lines


def evaluate(checkpoint: str | Path, specs: list[str], cache: str | Path | None = None,
             device: str | None = None, joint: int = 0, words: list[str] = (), voices: list[Sample] = (),
             plain_words: float = 0.0) -> dict:
    """Figures of a checkpoint on each ``--data`` spec (see read_data_spec), on ``joint`` samples
    joined from them (train.joint: senses of one emotion from different corpora; ``plain_words`` of
    those with words take words labelled neutral and the other senses' emotion), with ``words``
    on each corpus's clips and images given each of those sentences as their words ("<corpus>+words")
    and, with ``voices`` (read_voices), on each corpus's words given each of those voices
    ("<corpus>+voices")."""
    folder = checkpoint_folder(checkpoint).resolve()  # "default": the embedded one, from any folder
    config = model_config(folder, read_config(folder))  # its labels and context checked, its data read, before it loads
    check_labels(config, folder)
    sets: dict[str, list[Sample]] = {}
    spec_of: dict[str, str] = {}  # each set's --data spec (a +words or +voices set: its corpus's)
    for spec in specs:  # a spec mistyped is said at once
        name, samples = read_data_spec(spec, context=config.text_context)
        key = unique_key(name, {*sets, "joint"})  # "joint": the joined set's
        sets[key], spec_of[key] = samples, spec
    model = load_model(checkpoint, device)
    log.info("checkpoint %s", folder)
    rules = trained_on(folder)
    worded = {f"{k}+words": with_words(v, list(words)) for k, v in sets.items()} if words else {}
    worded.update({f"{k}+voices": with_voices(v, list(voices)) for k, v in sets.items()} if voices else {})
    spec_of.update({k: spec_of[k.rpartition("+")[0]] for k in worded})
    caches = extract_all(model, [s for samples in [*sets.values(), *worded.values(), voices] for s in samples], cache)
    left_out: dict[str, int] = {}
    reads = tuple(m for m in MODALITIES if m in model.encoders)  # its trained senses: no figures from the prior alone
    drop_unreadable(sets, caches, left_out, senses=reads)
    if joint:
        joined = joint_samples(list(sets.values()), caches, joint, seed=JOINT_SEED, plain_words=plain_words)
        if joined:
            sets["joint"] = joined
        else:
            log.warning("--joint %d: no two senses (words, voice, face) of the corpora given share an emotion; "
                        "no joined set", joint)
    worded = {k: v for k, v in worded.items() if v}
    drop_unreadable(worded, caches, left_out, own_words=False, senses=reads)
    sets.update(worded)
    report: dict = {}
    for key, samples in sets.items():
        report[key] = corpus_report(model, samples, caches)
        for head in report[key].values():
            head["unreadable"] = left_out.get(key, 0)
        log.info("%s: %s", key, _summary(report[key]))
        # beside the heads: where the figures came from (a corpus key can't collide with these)
        report[key]["spec"] = spec_of.get(key)  # None: the joined set
        report[key]["checkpoint"] = str(folder)
        if key == "joint":  # joined from the corpora given: held out only where all of them are
            seen = sorted(k for k in spec_of if k in report and report[k]["seen_in_training"])
            report[key]["seen_in_training"] = {"from": seen} if seen else None
            if seen:
                log.warning("joint: %s: these figures are not held out", not_held_out(report[key]["seen_in_training"]))
        else:
            report[key]["seen_in_training"] = seen_in_training(key, spec_of[key].partition("=")[0], samples, rules)
    return report


def _summary(heads: dict) -> str:
    """"emotion acc 0.750 on 4 (1 unreadable left out) wF1 ..., audio alone acc 0.667 on 3 (...)": how many
    samples each figure answered, so that a figure of a handful is not read as one of thousands."""
    return "; ".join(f"{h} acc {r['accuracy']:.3f} on {r['n']}{_left_out(r)} wF1 {r['weighted_f1']:.3f} "
                     f"mF1 {r['macro_f1']:.3f} ECE {r['ece']:.3f}"
                     + "".join(_alone(m, v) for m, v in r.get("per_modality", {}).items())
                     for h, r in heads.items() if h in ("emotion", "sentiment"))


def _left_out(head: dict) -> str:
    return f" ({head['unreadable']} unreadable left out)" if head.get("unreadable") else ""


def _alone(modality: str, v: dict) -> str:
    gate = f", distance {v['distance_median']:.2f}, {v['doubted_share']:.0%} doubted" if "distance_median" in v else ""
    bound = {"max": ">= ", "min": "<= "}.get(v.get("temperature_here_at_bound"), "")
    return (f", {modality} alone acc {v['accuracy']:.3f} on {v['n']} (ECE {v['ece']:.3f}, "
            f"T here {bound}{v['temperature_here']:.2f}{' (the end of the range searched)' if bound else ''}{gate})")


def write_pngs(report: dict, folder: str | Path) -> list[Path]:
    """One confusion-matrix PNG per corpus and head."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for corpus, heads in report.items():
        for head in ("emotion", "sentiment"):
            if head in heads:
                path = folder / f"{corpus}-{head}-confusion.png"
                save_confusion_png(heads[head], path, f"{corpus} {head}")
                paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.evaluate", description=__doc__.split("\n\n")[0],
                                formatter_class=HelpFormatter)
    p.add_argument("--checkpoint", type=user_path, default="default",
                   help="checkpoint folder, or 'default' for the embedded one")
    p.add_argument("--data", action="append", required=True,
                   help="a labelled corpus in its published layout (repeatable): meld=PATH/test_sent_emo.csv, "
                        "ravdess=DIR[:ACTORS, e.g. 21-24 or 5], emovo=DIR[:SPEAKERS], emodb=DIR[:SPEAKERS], "
                        "cremad=DIR[:SPEAKERS], fer2013=DIR/test, fer2013=PATH/fer2013.csv:PrivateTest, ckplus=DIR, "
                        "goemotions=PATH.tsv or folders=DIR (DIR/<emotion>/<file>)")
    p.add_argument("--joint", type=number(int, 0), default=0,
                   help="also report on this many samples joining the senses of the corpora given (one emotion)")
    p.add_argument("--joint-plain-words", type=number(float, 0, 1), default=0.0,
                   help="this share of the joined samples with words take the words of an utterance labelled neutral "
                        "and the emotion of the other senses")
    p.add_argument("--words", type=user_path,
                   help="also report each corpus's clips and images once with each of these sentences as "
                   "their words (\"<corpus>+words\"): 'cremad' (its twelve sentences) or a text file, one a line")
    p.add_argument("--voices", type=user_path,
                   help="also report each corpus's words once beside each of these voices (\"<corpus>+voices\"): "
                   "a folder of unlabelled utterances, one audio or video file each")
    p.add_argument("--json", type=user_path, help="write the figures to this JSON file")
    p.add_argument("--png-dir", type=user_path, help="write confusion-matrix PNGs into this folder")
    p.add_argument("--cache", type=user_path, default=DEFAULT_CACHE, help="feature cache folder ('' = in memory)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... or auto")
    args = p.parse_args(argv)
    for flag, path, folder in (("--json", args.json, False), ("--png-dir", args.png_dir, True),
                               ("--cache", args.cache or None, True)):  # --cache '': in memory
        if why := unwritable(path, folder, flag):
            p.error(why)  # before the work, not after it
    try:
        pick_device(args.device)
    except ValueError as e:  # a device this machine lacks
        p.error(str(e))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    try:
        with torch.no_grad():
            words = read_sentences(args.words) if args.words else ()
            voices = read_voices(args.voices) if args.voices else ()
            report = evaluate(args.checkpoint, args.data, args.cache or None, args.device, args.joint, words, voices,
                              args.joint_plain_words)
    except (CheckpointError, CorpusError, SourceUnavailable) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # one line, not the traceback of wherever it stopped
        kept = f"kept in {args.cache}: the same command goes on from them" if args.cache else "not kept (--cache '')"
        print(f"stopped (Ctrl-C), no figures written. The features computed so far are {kept}", file=sys.stderr)
        return 130
    for corpus, heads in report.items():
        seen = heads["seen_in_training"]
        print(f"{corpus}: {_summary(heads)}" + (f" [NOT HELD OUT: {not_held_out(seen)}]" if seen else ""))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    if args.png_dir:
        write_pngs(report, args.png_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
