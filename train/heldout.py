"""Whether a corpus evaluated is held out from a checkpoint: what its config.json says it was trained and
selected on, matched to the samples' speakers or published splits (``train.evaluate``'s "seen_in_training")."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from mmsent.checkpoint import CheckpointError, checkpoint_folder, read_config

from .corpora import CorpusError, Sample, parse_actors, shared_path, split_filter, split_name, user_path
from .face_corpora import FER_CSV_SPLITS, FER_CSV_USAGES
from .speech_corpora import parse_speakers, speaker_key

log = logging.getLogger("train.evaluate")


# What train.train records in a checkpoint's config.json ("training": "data", "hyperparameters") names
# corpora by kind and their speakers or published splits; their folders, as given, may be relative to where it ran, so
# a corpus of the same kind is taken for the same corpus (RAVDESS's actor 1 is one person in any copy).
# folders= sets have neither speakers nor splits to name: they are told by their folder, symbolic links resolved
# (recorded absolute, the home folder as ~: the reader's own; one that an older train.train recorded relative, as
# from where this runs);
# ckplus= sets can't be told.
BY = {"ravdess": "actors", "emovo": "speakers", "emodb": "speakers", "cremad": "speakers", "meld": "split",
      "fer2013": "split", "goemotions": "split", "folders": "folders"}


def _who(kind: str, s: Sample) -> str | None:
    """What the training metadata can name of a sample of ``kind``: its speaker, or its published split."""
    if kind == "ravdess":
        return str(int(s.group.removeprefix("actor")))
    if BY.get(kind) == "speakers":
        return speaker_key(s.group.removeprefix(f"{kind}-"))
    if kind == "meld":
        return split_name(Path(s.id.split("/")[0]))
    if kind == "folders":  # the clip's own path (its folders' links resolved): within a folder trained or selected on
        return str(Path(s.media).parent.resolve() / Path(s.media).name)
    if kind == "fer2013":  # as the image's own name says (PublicTest_12.jpg: Kaggle's test/ holds two splits),
        usage = s.group.partition("_")[0]  # else as the folder or the challenge's file names it (train -> Training)
        split = usage if usage in FER_CSV_USAGES else s.id.split("/")[1]
        return FER_CSV_SPLITS.get(split.lower(), split)
    return s.id.split("/")[1] if kind == "goemotions" else None


def _spec_who(spec: str) -> tuple[str | None, set[str] | None]:
    """A recorded --data or --dev-data spec -> (kind, its speakers or split (a folders= set: its folder); None:
    all); (None, None) where it names neither (ckplus=) or does not parse."""
    kind, _, where = spec.partition("=")
    folder, keep = split_filter(where)
    try:
        if kind == "ravdess":
            return kind, _actors(keep)
        if BY.get(kind) == "speakers":
            return kind, parse_speakers(keep)
    except CorpusError:
        return None, None
    if kind == "meld":
        return kind, {split_name(Path(where))}
    if kind == "folders":
        return kind, {str(Path(user_path(where)).resolve())}
    if kind == "fer2013":
        split = keep or Path(folder).name
        return kind, {FER_CSV_SPLITS.get(split.lower(), split)}
    return (kind, {Path(where).stem}) if kind == "goemotions" else (None, None)


def _actors(spec: str | None) -> set[str] | None:
    actors = parse_actors(spec)
    return None if actors is None else {str(a) for a in actors}


def inherited(spec: str) -> dict:
    """What an --init checkpoint (``DIR`` or ``DIR:PREFIX``), or a voice joined, records it was trained and selected
    on (the checkpoints it was made from too), kept in the checkpoint made from it: a corpus it saw is not held out
    from that one either (the words trained on GoEmotions, then joined to the voice and the face)."""
    folder, _, prefix = spec.partition(":")
    training = read_config(checkpoint_folder(folder), oldest=2).get("training") or {}
    return {"from": shared_path(folder) + (f":{prefix}" if prefix else ""), "data": training.get("data") or {},
            "hyperparameters": {"goemotions": (training.get("hyperparameters") or {}).get("goemotions")},
            "init": training.get("init") or []}


def trained_on(folder: Path) -> list[tuple[str, str, set[str] | None, set[str]]]:
    """What the checkpoint in ``folder`` records it was trained ("trained") and selected and calibrated
    ("dev") on: (role, corpus kind, speakers or splits (None: all), speakers not). Empty where it records
    nothing (the log says so)."""
    try:
        training = read_config(folder).get("training") or {}
    except CheckpointError:  # the untrained stand-in for a missing default
        training = {}
    if not (training.get("data") or training.get("init")):
        log.warning("%s records no training data (config.json's training.data): whether the corpora evaluated "
                    "are held out can't be told", folder)
        return []
    return _rules(training)


def _rules(training: dict) -> list[tuple[str, str, set[str] | None, set[str]]]:
    """trained_on's rules from a checkpoint's training record, and from those of the checkpoints it was made from
    (``--init``: recorded in its "init")."""
    data, hyper = (training.get(k) if isinstance(training.get(k), dict) else {} for k in ("data", "hyperparameters"))
    rules = [rule for inherited in training.get("init") or [] for rule in _rules(inherited)]
    if data.get("meld"):
        rules += [("trained", "meld", {"train"}, set()), ("dev", "meld", {"dev"}, set())]
    if data.get("ravdess"):
        rules.append(("trained", "ravdess", _actors(data.get("ravdess_train_actors")), set()))
        if data.get("ravdess_dev_actors"):
            rules.append(("dev", "ravdess", _actors(data["ravdess_dev_actors"]), set()))
    if data.get("emovo"):  # every speaker but the dev ones trained
        held = parse_speakers(data.get("emovo_dev_speakers")) or set()
        rules += [("trained", "emovo", None, held)] + ([("dev", "emovo", held, set())] if held else [])
    if data.get("fer2013"):
        rules += [("trained", "fer2013", {"Training"}, set()), ("dev", "fer2013", {"PublicTest"}, set())]
    if hyper.get("goemotions"):  # its dev split selects only without MELD
        rules += [("trained", "goemotions", {"train"}, set())] + ([] if data.get("meld") else
                                                                  [("dev", "goemotions", {"dev"}, set())])
    for role, specs in (("trained", data.get("data") or []), ("dev", data.get("dev_data") or [])):
        for spec in specs:
            kind, who = _spec_who(spec)
            if kind:
                rules.append((role, kind, who, set()))
    return rules


def seen_in_training(key: str, kind: str, samples: list[Sample], rules) -> dict | None:
    """Which speakers or splits of a set (of --data ``kind``) trained the checkpoint or were its dev set,
    as ``rules`` (trained_on) record them, and how many of its samples are theirs: logged as a warning;
    None where none are (or none can be told)."""
    found: dict[str, set[str]] = {"trained": set(), "dev": set()}
    seen = set()
    for role, rule_kind, who, not_who in rules:
        if rule_kind != kind:
            continue
        for s in samples:
            w = _who(kind, s)
            named = None if w is None or w in not_who else _among(kind, w, who)
            if named is not None:
                found[role].add(named)
                seen.add(s.id)
    if not seen:
        return None
    out = {"by": BY[kind], **{role: _sorted(w) for role, w in found.items()}, "n": len(seen), "of": len(samples)}
    log.warning("%s: %s %s: these figures are not held out", key, kind, not_held_out(out))
    return out


def _among(kind: str, who: str, rule: set[str] | None) -> str | None:
    """The name ``who`` (a speaker, a split, a folders= clip's path) is seen as where ``rule`` (None: all) takes it
    in, else None: a folders= clip by the rule's folder that holds it."""
    if rule is None:
        return who
    if kind == "folders":
        return next((f for f in sorted(rule) if who.startswith(f.rstrip(os.sep) + os.sep)), None)
    return who if who in rule else None


def not_held_out(seen: dict) -> str:
    """"actors 1-4 trained this checkpoint (240 of 240 samples)" from a "seen_in_training" entry."""
    if "from" in seen:  # the joined set's
        return f"joined from {', '.join(seen['from'])}, seen in training"
    said = [f"{_names(seen['by'], seen['trained'])} trained this checkpoint"] if seen["trained"] else []
    said += [f"{_names(seen['by'], seen['dev'])} {'was' if len(seen['dev']) == 1 else 'were'} its dev set (model "
             "selection and calibration)"] if seen["dev"] else []
    return f"{'; '.join(said)} ({seen['n']} of {seen['of']} samples)"


def _sorted(names) -> list[str]:
    return sorted(names, key=lambda w: (not w.isdigit(), int(w) if w.isdigit() else 0, w))


def _names(by: str, names) -> str:
    """"actors 1-4, 6-16" (actor numbers in runs), "actor 17", "speakers m1, m2"."""
    by, names = by.removesuffix("s") if len(names) == 1 else by, _sorted(names)
    if not all(w.isdigit() for w in names):
        return f"{by} {', '.join(names)}"
    runs: list[list[int]] = []
    for n in map(int, names):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return f"{by} {', '.join(f'{a}-{b}' if b > a else str(a) for a, b in runs)}"
