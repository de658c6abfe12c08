"""Canonical label order and the mappings from corpus label strings onto it.

Every model head, export and plot uses the order below. A corpus label with no counterpart
maps to ``None``: that sample trains only the head it has (see ``train/``).
"""

from collections.abc import Iterable

EMOTIONS = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")
SENTIMENTS = ("negative", "neutral", "positive")
SCORED = ("negative", "positive")  # the sentiments every model names: its score over time is p(positive) - p(negative)
MODALITIES = ("text", "audio", "video")
MODALITY_NAMES = {"text": "words", "audio": "voice", "video": "face"}  # what a user calls each sense
TASKS = ("emotion", "sentiment")  # the two heads, in each sense's reading as in the fused result

# MELD's CSV uses exactly our names, in lower case.
MELD_EMOTIONS = {name: name for name in EMOTIONS}
MELD_SENTIMENTS = {name: name for name in SENTIMENTS}

# RAVDESS file-name emotion codes (third field). It has no sentiment labels, and "calm" has no
# counterpart among MELD's seven: calm speech is low-arousal, non-valenced, so it trains "neutral".
RAVDESS_EMOTIONS = {
    "01": "neutral",
    "02": "neutral",  # calm
    "03": "joy",  # happy
    "04": "sadness",
    "05": "anger",
    "06": "fear",
    "07": "disgust",
    "08": "surprise",
}


def check_scored(sentiments: Iterable[str], name: str = "sentiments") -> None:
    """ValueError where ``sentiments`` (a model's, or an analysis's) lack negative or positive."""
    if not set(SCORED) <= set(sentiments):
        raise ValueError(f"{name} must include {' and '.join(SCORED)} (the sentiment score is p(positive) - "
                         f"p(negative)), got {sentiments!r}")


def names_given(value: str | Iterable[str]) -> list[str] | None:
    """The names in ``value``: one string as on the command line ("words, face": split at its commas), or strings
    (["words", "face"]); None where it is neither (b"words", None, ["words", 5]), for the caller to refuse."""
    given = value.split(",") if isinstance(value, str) else value
    given = list(given) if isinstance(given, Iterable) and not isinstance(given, bytes) else [given]
    return given if all(isinstance(n, str) for n in given) else None


def parse_senses(value: str | Iterable[str]) -> tuple[str, ...]:
    """"words,face", "text,video" or ["words", "face"] -> the modalities named, in MODALITIES order;
    ValueError for an unknown name or none."""
    by_name = {**{m: m for m in MODALITIES}, **{n: m for m, n in MODALITY_NAMES.items()}}
    given = names_given(value)
    if given is None:  # not an AttributeError from below
        raise ValueError(f"senses {value!r:.80}: name them as a string ('words,voice') or a list of strings")
    names = [n.strip().lower() for n in given if n.strip()]
    unknown = [n for n in names if n not in by_name]
    if unknown or not names:
        said = f"unknown sense {unknown[0]!r}" if unknown else "no sense named"
        raise ValueError(f"{said}: choose one or more of {', '.join(MODALITY_NAMES.values())}, e.g. words,voice")
    return tuple(m for m in MODALITIES if m in {by_name[n] for n in names})


def emotion_index(label: str, mapping: dict = MELD_EMOTIONS) -> int | None:
    """Index in EMOTIONS of a corpus label, or None if the corpus label has no counterpart."""
    name = mapping.get(label.strip().lower())
    return None if name is None else EMOTIONS.index(name)


def sentiment_index(label: str, mapping: dict = MELD_SENTIMENTS) -> int | None:
    """Index in SENTIMENTS of a corpus label, or None if it has no counterpart."""
    name = mapping.get(label.strip().lower())
    return None if name is None else SENTIMENTS.index(name)

# The sentiment an emotion implies, for corpora that label only emotions (speech, faces): MELD's own
# co-occurrence (in MELD train every anger, disgust, fear and sadness utterance is negative, every joy
# positive, every neutral neutral). Surprise is either (49 % positive, 51 % negative), so it trains none.
EMOTION_SENTIMENT = {"anger": "negative", "disgust": "negative", "fear": "negative", "sadness": "negative",
                     "joy": "positive", "neutral": "neutral", "surprise": None}


def implied_sentiment(emotion: int | None) -> int | None:
    """Index in SENTIMENTS implied by an emotion index (see EMOTION_SENTIMENT), or None."""
    name = None if emotion is None else EMOTION_SENTIMENT[EMOTIONS[emotion]]
    return None if name is None else SENTIMENTS.index(name)
