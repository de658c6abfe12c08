"""The result types of an analysis: plain dataclasses, JSON in and out.

An :class:`Analysis` is everything the pipeline learned about one video: the media facts, one
:class:`SegmentResult` per analysed stretch of time, which model produced it and any notes on
degraded modes. Export and plots work from an ``Analysis`` alone, so a saved JSON file can be
plotted and exported again without the model. The JSON layout is documented in ``docs/schema.md``.
The summary is always computed from the segments, never stored as state: ``from_dict`` ignores a
``summary`` key, so an edited file cannot carry a summary that contradicts its segments.
Version 2 adds what each sense says on its own (``per_modality``) and the face box; version-1 files
still load (no readings, no box) and are written back as version 2.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import functools
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import regex

from mmsent import validate
from mmsent.labels import EMOTIONS, MODALITIES, MODALITY_NAMES, SENTIMENTS

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2  # version of the JSON layout below; bump it on any incompatible change
READABLE_VERSIONS = (1, 2)  # versions from_dict loads (1: no per_modality, no face_box)
SEGMENT_KINDS = ("speech", "gap")  # "gap": a stretch without speech, analysed from sound and picture


FILE_MODE = 0o644  # permissions of written files (mkstemp would leave 0o600)
TEMP_NAME_BYTES = 200  # bytes of a file's name kept in the name of its temporary file or folder (file systems: 255)
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)  # write errors that no other file mends: the disk or the quota is full
LEFTOVER_AGE_S = 3600  # s: a temporary file or folder of an output left untouched this long is a killed write's
WORDS_SHOWN = 40  # characters (as seen) of a segment's words in its repr; longer ones end in an ellipsis

_MEDIA_KEYS = ("path", "duration", "has_audio", "has_video")
_SEGMENT_KEYS = ("start", "end", "text", "emotion", "sentiment", "modalities")
_ANALYSIS_KEYS = ("media", "segments", "model")


def _plain(value):
    """JSON for what a hand-built analysis may hold: numpy numbers, paths."""
    if hasattr(value, "item") and callable(value.item):  # a numpy scalar
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} {value!r} can't be written as JSON")


@dataclass
class MediaFacts:
    """What probing the input told us. Times in seconds, sizes in pixels (after rotation)."""

    path: str  # the input file as given
    duration: float  # seconds
    has_audio: bool
    has_video: bool
    width: int | None = None  # pixels, None without a video stream
    height: int | None = None
    fps: float | None = None  # frames per second (average)
    rotation: int = 0  # degrees the player rotates the picture (display matrix)
    # the audio track read where one was chosen (AnalysisOptions.audio_track: its number, or a language code); None:
    # the one a player plays. The annotated video, drawn from the file, plays it too.
    audio_track: int | str | None = None


@dataclass
class SegmentResult:
    """The model's reading of one stretch of time ``[start, end)`` seconds."""

    start: float  # seconds from the start of the media
    end: float  # seconds
    text: str  # the words spoken in it ("" for a gap)
    emotion: dict[str, float]  # label -> probability, labels in EMOTIONS order, sums to 1
    sentiment: dict[str, float]  # label -> probability, labels in SENTIMENTS order, sums to 1
    modalities: list[str]  # the modalities the model used here, a subset of MODALITIES; none: nothing
    # was read here (no words, no usable sound, no moving face), and emotion and sentiment are uniform
    contributions: dict[str, float] = field(default_factory=dict)
    # modality -> total-variation distance (0..1) between the emotion distribution with and
    # without that modality; only for modalities used
    kind: str = "speech"  # "speech" or "gap"
    per_modality: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    # what each sense used here says on its own: modality -> {"emotion": {label: p}, "sentiment":
    # {label: p}}, same labels as the fused result, each summing to 1; senses not used are absent
    face_box: list[float] | None = None
    # the main face as [x0, y0, x1, y1], fractions (0..1) of the displayed frame's width and height;
    # None when no face was found or the picture was not analysed (see frame_box)
    translation: str = ""  # the words in English as the recogniser translated them, which the words'
    # encoder read instead of ``text``; "" when they were not translated
    speaker: str = ""  # who says the words, where the subtitles name them ("Bob"; "Bob, Alice": two named on one line);
    # "" where unknown (speech recognition does not tell voices apart)

    def __post_init__(self):
        if self.face_box is not None:  # a tuple or numpy numbers would not round-trip through JSON
            self.face_box = [float(v) for v in self.face_box]

    @property
    def shown_text(self) -> str:
        """The words for people: who says them where known, the text, and its translation when there is one."""
        return self.said_by + (f"{self.text} {self.in_english}" if self.translation else self.text)

    @property
    def said_by(self) -> str:
        """What comes before the words where the speaker is known ("Bob: "); "" where not."""
        return f"{self.speaker}: " if self.speaker else ""

    @property
    def in_english(self) -> str:
        """The translation as shown beside the words, "(in English: ...)"; empty without one."""
        return f"(in English: {self.translation})" if self.translation else ""

    def reading(self, modality: str, task: str = "emotion") -> tuple[str, float] | None:
        """The top label and its probability in one sense's own reading; None if not used here."""
        probs = self.per_modality.get(modality, {}).get(task)
        return _top(probs) if probs else None

    def readings_text(self, probabilities: bool = True) -> str:
        """One line of what each sense says, in MODALITIES order, e.g.
        ``"words: joy 0.81 · voice: anger 0.55 · face: neutral 0.40"`` (``""`` without readings).
        ``probabilities=False`` gives the short form ``"words: joy · voice: anger"``.
        """
        parts = []
        for m in MODALITIES:
            top = self.reading(m)
            if top is not None:
                parts.append(f"{MODALITY_NAMES[m]}: {top[0]} {top[1]:.2f}" if probabilities
                             else f"{MODALITY_NAMES[m]}: {top[0]}")
        return " · ".join(parts)

    @property
    def read(self) -> bool:
        """Whether any sense was read here. A segment without one has no answer: its probabilities are
        uniform (no evidence), and the summary, tables, plots and captions leave it out or blank."""
        return bool(self.modalities)

    @property
    def top_emotion(self) -> tuple[str, float]:
        """The most probable emotion and its probability (no answer where nothing was ``read``)."""
        return _top(self.emotion)

    @property
    def top_sentiment(self) -> tuple[str, float]:
        """The most probable sentiment and its probability (no answer where nothing was ``read``)."""
        return _top(self.sentiment)

    @property
    def duration(self) -> float:
        """Length in seconds (never negative)."""
        return max(0.0, self.end - self.start)

    @property
    def sentiment_score(self) -> float:
        """p(positive) - p(negative), in [-1, 1]."""
        return self.sentiment.get("positive", 0.0) - self.sentiment.get("negative", 0.0)

    def __repr__(self) -> str:
        """One line, whatever the words' length: SegmentResult(0:12.30–0:15.10, speech, 'We did it, at long…', joy
        0.81, positive sentiment 0.66, words+voice), or SegmentResult(0:15.10–0:17.00, gap, nothing read).
        ``asdict`` gives every field."""
        words = [repr(one_line(self.said_by + self.text, WORDS_SHOWN))] if self.text else []
        (emotion, p), (sentiment, q) = self.top_emotion, self.top_sentiment
        senses = "+".join(MODALITY_NAMES[m] for m in self.modalities)
        # "sentiment" named: "neutral 0.56, neutral 0.61" read as one label twice
        answer = [f"{emotion} {p:.2f}", f"{sentiment} sentiment {q:.2f}", senses] if self.read else ["nothing read"]
        return f"SegmentResult({', '.join([_clock(self.start, self.end), self.kind, *words, *answer])})"


def frame_box(box, width: int, height: int) -> list[float] | None:
    """A face box in pixels ``(x0, y0, x1, y1)`` as ``face_box``: fractions of a ``width`` x
    ``height`` frame (as displayed), clipped to the frame; None for no box or none left inside it."""
    if box is None or width <= 0 or height <= 0:
        return None
    x0, x1 = (min(1.0, max(0.0, float(v) / width)) for v in (box[0], box[2]))
    y0, y1 = (min(1.0, max(0.0, float(v) / height)) for v in (box[1], box[3]))
    return [x0, y0, x1, y1] if x0 < x1 and y0 < y1 else None


def _top(probs: dict[str, float]) -> tuple[str, float]:
    if not probs:
        raise ValueError("cannot take the top label of an empty probability mapping")
    label = max(probs, key=probs.__getitem__)  # first of equal maxima, in label order
    return label, probs[label]


def hover_time(seconds: float, hours: bool = False) -> str:
    """A time of the media as the plots' hovers show it, read as the time axis reads, to 0.01 s: 1037.91 s is
    "17:17.91", with ``hours`` (media of an hour or more) "0:17:17.91"; 3723.45 s is "1:02:03.45"."""
    minutes, centis = divmod(round(seconds * 100), 6000)
    seconds = f"{centis // 100:02d}.{centis % 100:02d}"
    return f"{minutes // 60}:{minutes % 60:02d}:{seconds}" if hours else f"{minutes}:{seconds}"


def characters(text: str) -> list[str]:
    """The characters as people see them (Unicode's grapheme clusters): 👩‍👧 or हूँ is one, of several code points."""
    return regex.findall(r"\X", text)


def one_line(text: str, limit: int) -> str:
    """``text`` on one line (each run of spaces and line breaks one space), cut to ``limit`` characters as people
    see them (``characters``: never inside an emoji or a letter with its marks), the last an ellipsis."""
    chars = characters(" ".join(text.split()))
    return "".join(chars) if len(chars) <= limit else "".join(chars[: limit - 1]) + "…"


def _clock(*times: float) -> str:
    """Times of the media as ``hover_time`` writes them, "0:12.30–0:15.10", with hours where the last is an hour
    or more."""
    return "–".join(hover_time(t, times[-1] >= 3600) for t in times)


def _listed(texts: Iterable[str]) -> list[str] | str:
    """``texts`` as a list; a string as it is, for ``check`` to refuse (its letters were written one by one)."""
    return texts if isinstance(texts, str) else list(texts)


def shown(path: str | os.PathLike) -> str:
    """``path`` as it can be written: a name's bytes that are not UTF-8 as escapes (``caf\\xe9.wav``)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def counted(n: int, noun: str) -> str:
    """"1 segment", "3 segments": ``n`` and ``noun``, plural but for one (nouns whose plural ends in -s)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def duration_text(seconds: float, over: float | None = None) -> str:
    """"10 min 5 s", "45 s"; where ``seconds`` passes a limit ``over``, with the decimals that show it does (600.4 s
    over 600: "10 min 0.4 s", not "10 min", which reads as within it); without, with those it has, up to 3 (a limit
    of 1.5 s is not "2 s")."""
    digits = 0
    while digits < 3 and (round(seconds, digits) <= over if over is not None else round(seconds, digits) != seconds):
        digits += 1
    m, s = divmod(round(seconds, digits), 60)
    s_text = f"{s:.{digits}f}"
    return f"{int(m)} min {s_text} s" if m and s else f"{int(m)} min" if m else f"{s_text} s"


@dataclass
class Summary:
    """Figures computed from the segments of an Analysis (see ``Analysis.summary``)."""

    duration: float  # seconds covered by the segments
    # The rest is over the segments where a sense was read (SegmentResult.read), weighted by duration:
    emotion_share: dict[str, float]  # label -> share of that time where it is the top emotion (sums to 1)
    emotion_mean: dict[str, float]  # label -> duration-weighted mean probability (sums to 1)
    dominant_emotion: str | None  # largest time share; None where nothing was read
    sentiment_share: dict[str, float]  # label -> share of that time where it is the top sentiment
    sentiment_over_time: list[tuple[float, float]]  # (segment midpoint s, p(pos) - p(neg))
    mean_sentiment: float | None  # duration-weighted mean of the score; None where nothing was read

    @property
    def overall(self) -> str | None:
        """'mostly joy' where the dominant emotion holds more than half of the time read, else 'most
        often neutral'; None where nothing was read."""
        top = self.dominant_emotion
        return None if top is None else f"{'mostly' if self.emotion_share[top] > 0.5 else 'most often'} {top}"

    def __repr__(self) -> str:
        """One line: Summary(10:00.00, mostly fear (62% of the time read), mean sentiment -0.21, 290 segments read),
        or Summary(0:04.00, nothing read); its fields (``sentiment_over_time``: a point per segment) hold the rest."""
        if self.dominant_emotion is None:
            return f"Summary({_clock(self.duration)}, nothing read)"
        return (f"Summary({_clock(self.duration)}, {self.overall} ({self.emotion_share[self.dominant_emotion]:.0%} of "
                f"the time read), mean sentiment {self.mean_sentiment:+.2f}, "
                f"{counted(len(self.sentiment_over_time), 'segment')} read)")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sentiment_over_time"] = [list(p) for p in self.sentiment_over_time]
        return d


@dataclass
class Analysis:
    """The full result for one media file."""

    media: MediaFacts
    segments: list[SegmentResult]  # ordered by start time, covering the media
    model: dict  # what produced it: name, checkpoint, label names, trained branches (JSON-able)
    language: str | None = None  # ISO code of the speech, detected or forced; where it mixes languages, the most spoken
    transcript_source: str | None = None  # e.g. "faster-whisper base", "subtitles: x.srt"
    notes: list[str] = field(default_factory=list)  # degraded modes, in plain words
    schema_version: int = SCHEMA_VERSION
    # the languages of the speech, the most spoken first: [language] unless it mixes languages; [] where unknown
    languages: list[str] = field(default_factory=list)

    def __post_init__(self):
        if not self.languages and self.language:  # built by hand with one language: its list says so too
            self.languages = [self.language]

    def __repr__(self) -> str:
        """One line, whatever the number of segments: Analysis('talk show.mp4', 10:00.00, en, 300 segments (290
        read), mostly fear, model 'default', 1 note). ``to_dict`` and ``to_json`` give everything."""
        read = sum(s.read for s in self.segments)
        segments = counted(len(self.segments), "segment") + (f" ({read} read)" if read < len(self.segments) else "")
        parts = [repr(Path(self.media.path).name), _clock(self.media.duration), self.language_text, segments,
                 self.summary().overall or "nothing read"]
        parts += [f"model {self.model['name']!r}"] if self.model.get("name") else []
        parts += [counted(len(self.notes), "note")] if self.notes else []
        return f"Analysis({', '.join(parts)})"

    @property
    def language_text(self) -> str:
        """The spoken language for people: "en", "it, translated into English", "en and it, translated into
        English", "unknown"."""
        translated = any(s.translation for s in self.segments)
        spoken = " and ".join(self.languages if len(self.languages) > 1 else [self.language or "unknown"])
        return f"{spoken}{', translated into English' if translated else ''}"

    @property
    def emotion_labels(self) -> tuple[str, ...]:
        """Emotion labels of the segments (EMOTIONS unless the model says otherwise)."""
        return tuple(self.segments[0].emotion) if self.segments else EMOTIONS

    @property
    def sentiment_labels(self) -> tuple[str, ...]:
        return tuple(self.segments[0].sentiment) if self.segments else SENTIMENTS

    @property
    def speakers(self) -> list[str]:
        """Who speaks, where the subtitles name them (``SegmentResult.speaker``), in the order they first do."""
        return list(dict.fromkeys(s.speaker for s in self.segments if s.speaker))

    def speaker_summary(self, speaker: str) -> str:
        """What one speaker's segments say, in words to put after the name: "12.5 s, mostly joy, mean sentiment
        +0.41"; ValueError for a speaker not among ``speakers``."""
        summary = self.summary(speaker)
        read = (f"{summary.overall}, mean sentiment {summary.mean_sentiment:+.2f}" if summary.dominant_emotion
                else "nothing read")
        return f"{summary.duration:.1f} s, {read}"

    def summary(self, speaker: str | None = None) -> Summary:
        """Time shares, means and sentiment over time of the segments where a sense was read, weighted
        by segment duration (if every one of them has zero duration, each counts equally instead); of those
        ``speaker`` says where given (one of ``speakers``: ValueError for another), else of all.
        """
        if speaker is not None and speaker not in self.speakers:  # a name mistyped read as one who said nothing
            raise ValueError(f"no segment is said by {speaker!r}: " + (
                f"the speakers the subtitles name are {', '.join(map(repr, self.speakers))}" if self.speakers
                else "the subtitles name no one"))
        mine = [s for s in self.segments if speaker is None or s.speaker == speaker]
        total = sum(s.duration for s in mine)
        segs = [s for s in mine if s.read]  # a segment where nothing was read has no answer
        weights = [s.duration for s in segs]
        if segs and sum(weights) <= 0:
            weights = [1.0] * len(segs)
        wsum = sum(weights)
        emo_share = _share(segs, weights, self.emotion_labels, lambda s: s.top_emotion[0])
        sen_share = _share(segs, weights, self.sentiment_labels, lambda s: s.top_sentiment[0])
        emo_mean = {
            k: (sum(w * s.emotion.get(k, 0.0) for s, w in zip(segs, weights)) / wsum if wsum else 0.0)
            for k in self.emotion_labels
        }
        dominant = None
        if segs:  # largest share; ties broken by mean probability
            dominant = max(emo_share, key=lambda k: (emo_share[k], emo_mean[k]))
        over_time = [(round((s.start + s.end) / 2, 4), s.sentiment_score) for s in segs]  # 7.815, not 7.81499...
        mean_sent = sum(w * s.sentiment_score for s, w in zip(segs, weights)) / wsum if wsum else None
        return Summary(total, emo_share, emo_mean, dominant, sen_share, over_time, mean_sent)

    def to_dict(self) -> dict:
        """A JSON-able dict: the stored fields plus ``summary`` for consumers."""
        return self._stored() | {"summary": self.summary().to_dict()}

    def _stored(self) -> dict:
        """The fields a file stores and ``from_dict`` reads (``to_dict`` without the derived summary)."""
        return {
            "schema_version": self.schema_version,
            "media": asdict(self.media),
            "model": copy.deepcopy(self.model),  # a copy, as of every other field: the caller's to edit
            "language": self.language,
            "languages": _listed(self.languages),
            "transcript_source": self.transcript_source,
            "notes": _listed(self.notes),
            "segments": [asdict(s) for s in self.segments],
        }

    @classmethod
    def from_dict(cls, d: dict) -> Analysis:
        """Rebuild from ``to_dict`` output; checks the schema version, required keys and values.

        A version-1 dict loads with empty ``per_modality`` and no ``face_box``; the result is a
        version-2 analysis (it is written back as such).

        Raises:
            ValueError: not a dict, a missing key, a wrong or newer ``schema_version``, a bad value.
        """
        if not isinstance(d, dict):
            raise ValueError(f"an mmsent analysis must be a JSON object, got {type(d).__name__}")
        validate.check_version(d.get("schema_version", validate.MISSING), SCHEMA_VERSION, READABLE_VERSIONS)
        validate.require(d, _ANALYSIS_KEYS, "analysis")
        media = validate.checked_media(d["media"], _MEDIA_KEYS)
        if not isinstance(d["model"], dict):
            raise ValueError(f"mmsent analysis: model must be an object, got {d['model']!r}")
        validate.check_finite(d["model"], "model")
        if not isinstance(d["segments"], list):
            raise ValueError("mmsent analysis: 'segments' must be a list")
        labels = {"emotion": validate.model_labels(d["model"], "emotions", EMOTIONS),
                  "sentiment": validate.model_labels(d["model"], "sentiments", SENTIMENTS)}
        segments = [validate.checked_segment(s, i, labels, media.duration, _SEGMENT_KEYS, SEGMENT_KINDS)
                    for i, s in enumerate(d["segments"])]
        validate.check_order(segments, media.has_video)
        return cls(
            media=media,
            segments=segments,
            model=copy.deepcopy(d["model"]),
            language=validate.optional_text(d.get("language"), "language"),
            languages=validate.texts(d.get("languages"), "languages"),
            transcript_source=validate.optional_text(d.get("transcript_source"), "transcript_source"),
            notes=validate.texts(d.get("notes"), "notes"),
            schema_version=SCHEMA_VERSION,  # a version-1 file is upgraded as it is read
        )

    def check(self) -> dict:
        """``to_dict``, checked: ValueError, naming the field, where this analysis (built or edited by hand)
        would not load back, as what ``to_json`` and ``export.write`` write, ``from_json`` reads."""
        d = self._stored()  # checked before the summary, which needs sound segments (a label missing: KeyError)
        try:
            Analysis.from_dict(json.loads(json.dumps(d, default=_plain)))
        except (ValueError, TypeError) as e:
            raise ValueError(f"this analysis of {self.media.path} would not load back, so it is not written: {e}") \
                from e
        return d | {"summary": self.summary().to_dict()}

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """The JSON text (strict: no NaN); also written atomically to ``path`` if given. ValueError where the
        analysis would not load back (``check``)."""
        return dump_json(self.check(), path)

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> Analysis:
        """Load a file written by ``to_json``; ValueError names the file if it is not one. A byte order mark, which
        an editor may add (Windows' Notepad), is read past. The JSON text itself (``to_json()``'s, without a path) is
        refused saying to read it with ``from_dict`` (it was opened as a file's name: "File name too long")."""
        if isinstance(path, str) and path.lstrip().startswith("{"):
            raise ValueError("from_json reads a file, and this is JSON text: read the text with "
                             "Analysis.from_dict(json.loads(text))")
        path = Path(path)
        try:
            d = json.loads(path.read_text(encoding="utf-8-sig"))
            return cls.from_dict(d)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{path} is not an mmsent analysis JSON file: {e}") from e
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from e


def dump_json(checked: dict, path: str | os.PathLike | None = None) -> str:
    """The JSON text of ``Analysis.check()``'s dict (strict: no NaN); also written atomically to ``path`` if given.
    ``to_json`` checks, then this; ``export.write`` checks once for all its formats, then this for its JSON."""
    text = json.dumps(checked, ensure_ascii=False, indent=2, allow_nan=False, default=_plain)
    if path is not None:
        write_text_atomic(path, text + "\n")
    return text


def checked_writer(writer: Callable[..., Path]) -> Callable[..., Path]:
    """``writer(analysis, path, ...)``, refusing first an analysis that would not load back (``Analysis.check``: a
    ValueError naming the field; unchecked, the CSV took a missing label for 0, a NaN time failed as "cannot convert
    float NaN to integer"). ``export.write`` checks once for all its formats, then calls the writers unchecked
    (``__wrapped__``)."""
    @functools.wraps(writer)
    def checked(analysis: Analysis, path: str | os.PathLike, *args, **kwargs) -> Path:
        analysis.check()
        return writer(analysis, path, *args, **kwargs)
    return checked


def _share(segs, weights, labels, top) -> dict[str, float]:
    share = dict.fromkeys(labels, 0.0)
    for s, w in zip(segs, weights):
        share[top(s)] = share.get(top(s), 0.0) + w
    total = sum(weights)
    return {k: v / total for k, v in share.items()} if total else share


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ""):
    """Yield a temporary path beside ``path``; on success it replaces ``path``, else it is removed. An OSError that
    names ``path``, not the temporary file, where ``path`` is a folder or in none."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "Is a folder, not a file: give the path of a file to write", str(path))
    if not path.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, "No such folder to write it in (make the folder first)", str(path))
    remove_leftovers(path)
    fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=suffix or path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def temporary_prefix(path: Path) -> str:
    """".NAME." for a temporary file or folder beside ``path``, NAME cut to TEMP_NAME_BYTES bytes (whole characters):
    a name that fits the file system (255 bytes, not characters: a Chinese letter takes 3) must not get a
    temporary one that does not."""
    return "." + path.name.encode("utf-8", "surrogateescape")[:TEMP_NAME_BYTES].decode("utf-8", "ignore") + "."


def remove_leftovers(path: Path) -> None:
    """Remove the temporary files and folders that a killed write of ``path`` left beside it (SIGKILL, the memory
    killer, a power cut: nothing ran to remove them; an annotated video's may hold gigabytes): those named as
    ``atomic_path`` and the annotated video name theirs, untouched for LEFTOVER_AGE_S, so that a write still
    running in another process keeps its own."""
    prefix = temporary_prefix(path)
    own = re.compile(re.escape(prefix) + r"[a-z0-9_]{8}(\.tmp|" + re.escape(path.suffix) + ")?")  # tempfile's names
    try:
        leftovers = [p for p in path.parent.iterdir() if own.fullmatch(p.name)]
    except OSError:  # no folder yet, or not readable: its writer says so
        return
    for p in leftovers:
        try:
            if time.time() - _last_change(p) > LEFTOVER_AGE_S:
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
                log.info("removed %s, left by a write of %s that was killed", p, path.name)
        except OSError:  # removed meanwhile by another process, or not ours to remove
            pass


def _last_change(p: Path) -> float:
    """The latest modification time of ``p`` and, for a folder, of everything in it."""
    times = [p.lstat().st_mtime]
    if p.is_dir() and not p.is_symlink():
        times += [Path(folder, f).lstat().st_mtime for folder, _, files in os.walk(p) for f in files]
    return max(times)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 text via a temporary file in the same folder and ``os.replace``."""
    with atomic_path(path, suffix=".tmp") as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")
    log.debug("wrote %s", path)
    return Path(path)
