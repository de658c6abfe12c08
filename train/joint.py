"""Joined samples: senses from different corpora that share one emotion, so that the fusion learns
how senses add up. No corpus here has all three senses: MELD (here) gives words, the speech corpora
voices, FER2013 faces. A joined sample takes a MELD utterance's words (and its sentiment), a speech
clip's sound and a face of the same emotion: any two of them, or all three.

Words often carry no emotion while the voice or face shows one (an actor's fixed sentence, "It's eleven
o'clock." said in anger): with ``plain_words`` a share of the joined samples with words take the words of
an utterance labelled neutral, and the label of the other senses, so that the fusion also sees words
that are no evidence beside senses that are.

Emotions are drawn uniformly (a balanced set: the fusion should not learn MELD's 47 % neutral as
the prior of every face and voice). Draw from the training splits to train, from the dev splits to
select and calibrate: the two never share a speaker, face or dialogue.
"""

from __future__ import annotations

import random

from mmsent.labels import EMOTIONS, MODALITIES

from .cache import FeatureCache
from .corpora import Sample

COMBINATIONS = (("text", "audio"), ("text", "video"), ("audio", "video"), ("text", "audio", "video"))
TEXT_CORPORA = ("meld",)  # corpora whose words carry their label (RAVDESS says two fixed sentences)


def _pools(sets: list[list[Sample]], caches: dict[str, FeatureCache]) -> dict[str, dict[int, list[Sample]]]:
    """modality -> emotion -> samples with usable cached features of that modality."""
    pools: dict[str, dict[int, list[Sample]]] = {m: {} for m in MODALITIES}
    seen = set()
    for samples in sets:
        for s in samples:
            if s.emotion is None or s.parts or s.id in seen:
                continue
            seen.add(s.id)
            for m, cache in caches.items():
                if m not in pools or m == "text" and s.corpus not in TEXT_CORPORA:
                    continue
                if s.feature_id(m) in cache and cache[s.feature_id(m)].numel():
                    pools[m].setdefault(s.emotion, []).append(s)
    return pools


def joint_samples(sets: list[list[Sample]], caches: dict[str, FeatureCache], n: int, seed: int = 0,
                  plain_words: float = 0.0) -> list[Sample]:
    """``n`` joined samples drawn from ``sets`` (combinations and emotions uniform among those the
    pools can make; the same seed gives the same samples); with ``plain_words``, that share of the
    samples joining words to another sense take words labelled neutral (their sentiment then
    implied by the emotion)."""
    pools = _pools(sets, caches)
    neutral = EMOTIONS.index("neutral")
    plain = pools["text"].get(neutral)
    rng = random.Random(seed)
    options = [(c, e) for c in COMBINATIONS for e in range(len(EMOTIONS)) if all(pools[m].get(e) for m in c)]
    if not options:
        return []
    out = []
    for k in range(n):
        combo, emotion = rng.choice(options)
        parts = {m: rng.choice(pools[m][emotion]) for m in combo}
        if plain_words and plain and "text" in combo and rng.random() < plain_words:
            parts["text"] = rng.choice(plain)
        text = parts.get("text")
        sentiment = text.sentiment if text and text.emotion == emotion else None
        out.append(Sample(
            id=f"joint/{seed}/{k}", corpus="joint", text=text.text if text else None, emotion=emotion,
            sentiment=sentiment, group="joint",
            parts=tuple((m, s.feature_id(m)) for m, s in parts.items())))
    return out
