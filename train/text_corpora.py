"""Text-only corpora: GoEmotions (Reddit comments labelled with 27 emotions or neutral).

GoEmotions (Demszky et al., ACL 2020) in its original layout: ``{train,dev,test}.tsv`` with columns
text, comma-separated label ids into ``emotions.txt`` (28 names, neutral last) and comment id, beside
the authors' ``ekman_mapping.json`` and ``sentiment_dict.json``.

Label mapping (both files are the authors'; nothing is hard-coded here):
- emotion: each of the 27 labels goes to its Ekman group (anger, disgust, fear, joy, sadness,
  surprise), "neutral" stays neutral: all seven are MELD's emotions.
- sentiment: positive and negative labels give that sentiment, "neutral" gives neutral; the
  "ambiguous" labels (surprise's group: surprise, realization, confusion, curiosity) give None,
  so those comments train no sentiment head (in MELD, too, surprise is either).
- A comment whose labels fall into different Ekman groups (e.g. joy + anger, or neutral + sadness:
  3,855 of 43,410 in train) is left out and counted: it has no single answer among our seven
  emotions. Within one group the sentiments never disagree (checked, not assumed).
"""

from __future__ import annotations

import csv
import json
import logging
import random
from collections import Counter
from pathlib import Path

from mmsent.labels import EMOTIONS, SENTIMENTS

from .corpora import CorpusError, Sample, clean_text

log = logging.getLogger(__name__)

NEUTRAL = "neutral"  # GoEmotions' own name, the last line of emotions.txt
GOEMOTIONS_FILES = ("emotions.txt", "ekman_mapping.json", "sentiment_dict.json")


def _load_mapping(folder: Path) -> tuple[list[str], dict[str, str], dict[str, str | None]]:
    """Label names by id, label -> Ekman group (our emotion name), label -> sentiment name or None."""
    missing = [n for n in GOEMOTIONS_FILES if not (folder / n).is_file()]
    if missing:
        raise CorpusError(f"{folder}: GoEmotions files {missing} not found beside the TSV")
    names = (folder / "emotions.txt").read_text(encoding="utf-8-sig").split()
    ekman = json.loads((folder / "ekman_mapping.json").read_text(encoding="utf-8-sig"))
    polarity = json.loads((folder / "sentiment_dict.json").read_text(encoding="utf-8-sig"))
    group = {label: g for g, labels in ekman.items() for label in labels}
    group[NEUTRAL] = NEUTRAL
    sentiment: dict[str, str | None] = {label: (p if p in SENTIMENTS else None)
                                        for p, labels in polarity.items() for label in labels}
    sentiment[NEUTRAL] = NEUTRAL
    unknown = sorted(set(names) - set(group)) + sorted(set(group.values()) - set(EMOTIONS))
    if unknown or set(names) - set(sentiment):
        raise CorpusError(f"{folder}: the mapping files do not cover the labels {unknown or sorted(set(names) - set(sentiment))}")
    return names, group, sentiment


def read_goemotions(path_tsv: str | Path) -> list[Sample]:
    """Read one GoEmotions split (``train.tsv``, ``dev.tsv`` or ``test.tsv``) as text-only Samples.

    Ids are ``goemotions/<split>/<comment id>``, group = comment id. Comments whose labels map to
    different emotions are left out (counted in the log and in ``read_goemotions.last_counts``).
    """
    path = Path(path_tsv)
    if not path.is_file():
        raise CorpusError(f"{path}: GoEmotions TSV not found; pass a file such as train.tsv")
    names, group, sentiment = _load_mapping(path.parent)
    samples, counts = [], Counter()
    with open(path, newline="", encoding="utf-8-sig") as f:
        for line, row in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
            if len(row) != 3:
                raise CorpusError(f"{path}, line {line}: expected 3 tab-separated columns, got {len(row)}")
            text, ids, comment = row
            try:
                labels = [names[int(i)] for i in ids.split(",")]
            except (ValueError, IndexError) as e:
                raise CorpusError(f"{path}, line {line}: bad label ids {ids!r} (0-{len(names) - 1})") from e
            emotions = {group[label] for label in labels}
            if len(emotions) > 1:
                counts["disagreeing labels"] += 1
                continue
            polarities = {sentiment[label] for label in labels}
            if len(polarities) > 1:  # can't happen with the authors' files; refuse rather than guess
                raise CorpusError(f"{path}, line {line}: labels {labels} of one emotion disagree on sentiment")
            text = clean_text(text)
            if not text:
                counts["empty text"] += 1
                continue
            polarity = polarities.pop()
            samples.append(Sample(
                id=f"goemotions/{path.stem}/{comment}", corpus="goemotions", text=text,
                emotion=EMOTIONS.index(emotions.pop()),
                sentiment=None if polarity is None else SENTIMENTS.index(polarity), group=comment))
    if not samples:
        raise CorpusError(f"{path}: no usable GoEmotions rows")
    read_goemotions.last_counts = counts
    log.info("%s: %d comments%s", path, len(samples), "".join(f", {n} with {k} left out" for k, n in counts.items()))
    return samples


read_goemotions.last_counts = Counter()


def cap_per_emotion(samples: list[Sample], cap: int, seed: int = 0) -> list[Sample]:
    """At most ``cap`` samples of each emotion, drawn at random (seeded), in their original order:
    balances a corpus such as GoEmotions (38 % joy) and bounds its cost. cap <= 0 keeps all."""
    if cap <= 0:
        return list(samples)
    by_emotion: dict[int | None, list[int]] = {}
    for i, s in enumerate(samples):
        by_emotion.setdefault(s.emotion, []).append(i)
    rng = random.Random(seed)
    keep = set()
    for rows in by_emotion.values():
        keep.update(rows if len(rows) <= cap else rng.sample(rows, cap))
    return [s for i, s in enumerate(samples) if i in keep]
