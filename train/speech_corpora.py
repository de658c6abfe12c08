"""Readers for emotional speech corpora in their published layouts: EMOVO, EMO-DB, CREMA-D, and
any folder of clips sorted into one sub-folder per emotion.

Each reader returns ``train.corpora.Sample`` lists; labels are indices into mmsent.labels.EMOTIONS
(anger, disgust, fear, joy, neutral, sadness, surprise). None of these corpora has sentiment labels
(``sentiment=None``: such a sample trains the sentiment its emotion implies in MELD, ``train.data``). ``group`` is the speaker, prefixed
with the corpus (``emovo-f1``, ``emodb-03``, ``cremad-1001``): split by group, never by clip.

Label mappings (tested in tests/test_speech_corpora.py):
- EMOVO (Italian, ``<speaker>/EMO-SPEAKER-SENTENCE.flac``, e.g. ``f1/dis-f1-b1.flac``): dis ->
  disgust, gio (gioia) -> joy, neu -> neutral, pau (paura) -> fear, rab (rabbia) -> anger, sor
  (sorpresa) -> surprise, tri (tristezza) -> sadness. Text: None (Italian; the text branch is English).
- EMO-DB (German, ``03a01Fa.wav``: speaker = characters 1-2, sentence = 3-5, emotion = the 6th,
  version = the rest): W (Wut) -> anger, E (Ekel) -> disgust, A (Angst) -> fear, F (Freude) -> joy,
  T (Trauer) -> sadness, N -> neutral; L (Langeweile, boredom) has no counterpart and is left
  out (counted in the log). Text: None (German).
- CREMA-D (English, ``1001_DFA_ANG_XX.wav`` or any container: actor, sentence, emotion, intensity):
  ANG -> anger, DIS -> disgust, FEA -> fear, HAP -> joy, NEU -> neutral, SAD -> sadness (no
  surprise). Text: the sentence the code names (12 fixed sentences, as RAVDESS gives its own).
- Folders (``DIR/<emotion>/<file>``, files at any depth below the emotion folder): the folder name,
  case-insensitive, is matched through ``FOLDER_NAMES`` (angry/anger/mad, happy/happiness/joy/joyful,
  sad/sadness, fear/fearful/afraid/scared, disgust/disgusted, surprise/surprised, neutral/calm);
  other folders are skipped and named in the log (a warning for those that hold clips), and emotion
  folders that hold no clip named there.
  A clip under two emotion folders (a link, or a copy of the same bytes) is refused; its copies under
  one folder are read once (the first by path), counted and named in the log. No speaker is known:
  each clip is its own group, so such a corpus serves evaluation, not speaker-independent splits.
  Text: None.

Any audio or video container the decoder reads is accepted (``MEDIA_SUFFIXES``); ``has_video``
follows the file's suffix (``VIDEO_SUFFIXES``). When one clip is there in several containers (e.g.
CREMA-D's AudioWAV and VideoFlash side by side, or an EMO-DB wav beside its mp3), a video file is
kept (it gives the face), else a lossless one (``LOSSLESS_SUFFIXES``), and the copies are counted.
Files of other kinds, hidden files (``.DS_Store``, macOS's ``._a1.wav``) and broken links are
skipped and counted in the log; linked folders are followed (train.corpora.corpus_files).
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from mmsent.labels import EMOTIONS
from mmsent.probe import LOSSLESS_SUFFIXES, MEDIA_SUFFIXES, VIDEO_SUFFIXES  # a file of another kind: skipped, counted
from mmsent.results import counted

from .corpora import CorpusError, Sample, Skipped, corpus_files, corpus_folder, media_tag

log = logging.getLogger(__name__)

# Smaller files are no clip (an empty copy, a git-lfs pointer): the same bytes in two emotion folders are
# no label conflict, and they are counted unreadable when their features fail.
STUB_BYTES = 1024
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}  # faces: fer2013= or ckplus=

EMOVO_EMOTIONS = {"dis": "disgust", "gio": "joy", "neu": "neutral", "pau": "fear", "rab": "anger",
                  "sor": "surprise", "tri": "sadness"}
EMOVO_SPEAKERS = ("f1", "f2", "f3", "m1", "m2", "m3")
EMOVO_NAME = re.compile(r"^([a-z]{3})-([a-z]\d+)-(\w+)$", re.IGNORECASE)

EMODB_EMOTIONS = {"W": "anger", "E": "disgust", "A": "fear", "F": "joy", "T": "sadness", "N": "neutral",
                  "L": None}  # L: boredom, no counterpart among the seven
EMODB_NAME = re.compile(r"^(\d\d)([a-z]\d\d)([A-Z])([a-z]*)$")

CREMAD_EMOTIONS = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "joy", "NEU": "neutral",
                   "SAD": "sadness"}
CREMAD_SENTENCES = {
    "IEO": "It's eleven o'clock.", "TIE": "That is exactly what happened.",
    "IOM": "I'm on my way to the meeting.", "IWW": "I wonder what this is about.",
    "TAI": "The airplane is almost full.", "MTI": "Maybe tomorrow it will be cold.",
    "IWL": "I would like a new alarm clock.", "ITH": "I think I have a doctor's appointment.",
    "DFA": "Don't forget a jacket.", "ITS": "I think I've seen this before.",
    "TSI": "The surface is slick.", "WSI": "We'll stop in a couple of minutes.",
}
CREMAD_NAME = re.compile(r"^(\d+)_([A-Z]{3})_([A-Z]{3})_([A-Z]{1,2})$")  # older copies: 1040_ITH_SAD_X

# Emotion folder names (lower case) -> our emotion.
FOLDER_NAMES = {
    **dict.fromkeys(("angry", "anger", "mad"), "anger"),
    **dict.fromkeys(("happy", "happiness", "joy", "joyful"), "joy"),
    **dict.fromkeys(("sad", "sadness"), "sadness"),
    **dict.fromkeys(("fear", "fearful", "afraid", "scared"), "fear"),
    **dict.fromkeys(("disgust", "disgusted"), "disgust"),
    **dict.fromkeys(("surprise", "surprised"), "surprise"),
    **dict.fromkeys(("neutral", "calm"), "neutral"),
}


def _container_rank(path: Path) -> tuple[bool, bool]:
    """Which copy of a clip to keep (lowest first): a video (it gives the face), then lossless audio."""
    suffix = path.suffix.lower()
    return suffix not in VIDEO_SUFFIXES, suffix not in LOSSLESS_SUFFIXES


def media_files(root: Path, counts: Skipped, same_folder: bool = False) -> list[Path]:
    """Media files below root (corpus_files), one per clip name, sorted by path: of a clip's copies in
    several containers the best ranked (_container_rank), then the first by path. A clip is its stem
    (names that carry the labels) or, with same_folder, its folder and stem."""
    best: dict[tuple, Path] = {}
    for path in corpus_files(root, counts):
        if path.suffix.lower() not in MEDIA_SUFFIXES:
            counts.add("other files", path)
            continue
        key = (path.parent if same_folder else None, path.stem)
        if key in best:  # the better ranked kept, the first by path where alike (a stable sort)
            path, other = sorted((best[key], path), key=_container_rank)
            counts.add("copies in another container", other)
        best[key] = path
    return sorted(best.values())


def parse_speakers(speakers: str | Iterable[str] | None) -> set[str] | None:
    """"f1,m2" or ["f1", "m2"] -> {"f1", "m2"} (``speaker_key``s); None or "" -> None (all speakers).
    No speaker name holds a dash: a range ("1001-1010") is refused, not read as a name nobody has."""
    if not speakers:
        return None
    items = speakers.split(",") if isinstance(speakers, str) else speakers
    keep = {speaker_key(s) for s in items if str(s).strip()}
    if not keep or any("-" in s for s in keep):
        raise CorpusError(f"bad speaker list {speakers!r}: name each speaker, e.g. 'f1,m3', '03,16' or "
                          f"'1001,1002' (ranges are not read)")
    return keep


def speaker_key(speaker) -> str:
    """A speaker's name as compared: lower case, a number without its leading zeros (EMO-DB's 03 is 3)."""
    key = str(speaker).strip().lower()
    return str(int(key)) if key.isdigit() else key


def _sample(corpus: str, sid: str, path: Path, emotion: str, group: str, text: str | None = None) -> Sample:
    return Sample(id=f"{corpus}/{sid}", corpus=corpus, text=text, emotion=EMOTIONS.index(emotion),
                  sentiment=None, media=path, has_video=path.suffix.lower() in VIDEO_SUFFIXES, group=group)


def _finish(corpus: str, root: Path, samples: list[Sample], counts: Skipped, layout: str,
            speakers: set[str] | None, seen: set[str] = frozenset()) -> list[Sample]:
    """``samples``, or the error that says there are none (of ``speakers``; ``seen``: the speakers there are)."""
    if not samples:
        its = f" (its speakers: {', '.join(sorted(seen))})" if seen else ""
        raise CorpusError(f"{root}: no {corpus} clips ({layout}) found"
                          + (f" for speakers {sorted(speakers)}{its}" if speakers else ""))
    log.info("%s: %s of %s%s", root, counted(len(samples), "clip"), corpus, counts.summary())  # "1 clip of mine"
    return samples


def _by_name(corpus: str, folder: str | Path, pattern: re.Pattern, layout: str, speakers, label) -> list[Sample]:
    """Shared loop of the readers whose labels are in the file names. ``label(match)`` gives
    (speaker, emotion name or None to leave out, reason for leaving out, text)."""
    root = corpus_folder(folder, corpus, layout)
    keep = parse_speakers(speakers)
    samples, counts, seen = [], Skipped(), set()
    for path in media_files(root, counts):
        m = pattern.match(path.stem)
        if not m:
            counts.add("files with other names", path)
            continue
        speaker, emotion, reason, text = label(m)
        seen.add(speaker_key(speaker))
        if keep is not None and speaker_key(speaker) not in keep:
            continue
        if emotion is None:
            counts[reason] += 1
            continue
        samples.append(_sample(corpus, path.stem, path, emotion, f"{corpus}-{speaker}", text))
    if samples and keep and keep - seen:  # a typo among the speakers would shrink the split without a word
        log.warning("%s: no %s clips of speakers %s (its speakers: %s)", root, corpus, sorted(keep - seen),
                    ", ".join(sorted(seen)))
    return _finish(corpus, root, samples, counts, layout, keep, seen)


def read_emovo(folder: str | Path, speakers: str | Iterable[str] | None = None) -> list[Sample]:
    """EMOVO clips (``<speaker>/EMO-SPEAKER-SENTENCE.flac``); speakers: e.g. "f1,m3" (None: all)."""
    def label(m):
        code = m.group(1).lower()
        return m.group(2).lower(), EMOVO_EMOTIONS.get(code), f"unknown code {code!r}", None
    return _by_name("emovo", folder, EMOVO_NAME, "<speaker>/EMO-SPEAKER-SENTENCE.flac", speakers, label)


def read_emodb(folder: str | Path, speakers: str | Iterable[str] | None = None) -> list[Sample]:
    """EMO-DB clips (``wav/03a01Fa.wav``, any depth); boredom (L) is left out and counted."""
    def label(m):
        code = m.group(3)
        reason = "boredom (L)" if code == "L" else f"unknown code {code!r}"
        return m.group(1), EMODB_EMOTIONS.get(code), reason, None
    return _by_name("emodb", folder, EMODB_NAME, "files named like 03a01Fa.wav", speakers, label)


def read_cremad(folder: str | Path, speakers: str | Iterable[str] | None = None) -> list[Sample]:
    """CREMA-D clips (``AudioWAV/1001_DFA_ANG_XX.wav``, or .mp3/.flv/.mp4..., any depth)."""
    def label(m):
        code, sentence = m.group(3), CREMAD_SENTENCES.get(m.group(2))
        if sentence is None:  # not one of its 12 sentences: not CREMA-D's naming
            return m.group(1), None, f"unknown sentence code {m.group(2)!r}", None
        return m.group(1), CREMAD_EMOTIONS.get(code), f"unknown code {code!r}", sentence
    return _by_name("cremad", folder, CREMAD_NAME, "files named like 1001_DFA_ANG_XX.wav", speakers, label)


def read_voices(folder: str | Path) -> list[Sample]:
    """Unlabelled utterances, one audio or video file each, at any depth below ``folder`` (for
    ``train.evaluate --voices``: voices heard beside labelled words)."""
    root = corpus_folder(folder, "voices", "audio or video files, one utterance each")
    samples = [Sample(id=f"voices/{root.name}/{path.relative_to(root).with_suffix('').as_posix()}", corpus="voices",
                      text=None, emotion=None, sentiment=None, media=path, group=path.stem)
               for path in media_files(root, Skipped(), same_folder=True)]
    if not samples:
        raise CorpusError(f"{root}: no audio or video files (one utterance each) found")
    return samples


def folder_emotion(name: str) -> str | None:
    """Our emotion for an emotion-folder name ("Angry", "SCARED", " calm "), or None if unknown."""
    return FOLDER_NAMES.get(name.strip().lower())


def read_folders(folder: str | Path) -> list[Sample]:
    """Clips sorted into ``DIR/<emotion>/...`` folders; corpus name = the folder's own name as given
    (a link's, not its target's). A clip under two emotion folders (a link, or a copy of the same
    bytes) is refused: a label conflict is an error in the data; its copies under one are read once."""
    root = corpus_folder(folder, "labelled", "one sub-folder per emotion (e.g. Angry/, Happy/, Neutral/, Sad/)")
    corpus = Path(os.path.abspath(root)).name
    samples, counts, unknown, found, inside, empty = [], Skipped(), [], [], [], []
    try:
        subs = sorted(root.iterdir())
    except OSError as e:  # a folder of another user's, unreadable
        raise CorpusError(f"{root}: can't list the folder ({e.strerror}); make it readable to you") from e
    for sub in subs:
        if sub.name.startswith("."):
            counts.add("hidden files or folders", sub)
        elif not sub.is_dir():
            if sub.is_symlink() and not sub.exists():
                counts.add("broken links", sub)
            elif sub.suffix.lower() in MEDIA_SUFFIXES:
                counts.add("files outside emotion folders", sub)
        elif folder_emotion(sub.name) is None:
            unknown.append(sub.name)
        else:
            found.append(sub)
            paths = media_files(sub, counts, same_folder=True)
            if not paths:
                empty.append(sub.name)
            for path in paths:
                if {folder_emotion(p) for p in path.relative_to(sub).parts[:-1]} - {None, folder_emotion(sub.name)}:
                    inside.append(path.relative_to(root).as_posix())  # Angry/sad/x.wav: read as anger, said
                rel = path.relative_to(sub).with_suffix("").as_posix()
                samples.append(_sample(corpus, f"{sub.name}/{rel}", path, folder_emotion(sub.name),
                                       f"{corpus}-{sub.name}/{rel}"))
    if not samples:
        raise CorpusError(_no_clips(root, found, unknown, counts))
    _say_unknown(root, unknown)
    if empty:
        log.warning("%s: %d emotion folder(s) hold no audio or video files: %s", root, len(empty), ", ".join(empty))
    if inside:
        log.warning("%s: %d clip(s) in a folder named for another emotion, inside an emotion folder, labelled as the "
                    "outer folder says: %s", root, len(inside), ", ".join(inside[:10]))
    samples = _drop_copies(root, samples, counts)
    _say_read_as(root, samples)
    return _finish(corpus, root, samples, counts, "DIR/<emotion>/<file>", None)


def _say_read_as(root: Path, samples: list[Sample]) -> None:
    """The emotion each folder was read as and its clips (calm/ -> neutral), and the emotions no clip has: in the
    log."""
    clips = Counter(s.media.relative_to(root).parts[0] for s in samples)
    read_as = ", ".join(f"{name} -> {folder_emotion(name)} ({n})" for name, n in sorted(clips.items()))
    missing = [e for i, e in enumerate(EMOTIONS) if i not in {s.emotion for s in samples}]
    log.info("%s: emotion folders read as %s%s", root, read_as,
             f"; no clips of {', '.join(missing)}" if missing else "")


def _say_unknown(root: Path, unknown: list[str]) -> None:
    """Folders with no emotion name, in the log: a warning for those that hold audio or video (Wut/, felicità/:
    clips left out of the figures), saying how to name them; an info line for the others."""
    media = [u for u in unknown if any(p.suffix.lower() in MEDIA_SUFFIXES for p in corpus_files(root / u, Skipped()))]
    if media:
        log.warning("%s: %d folder(s) of audio or video with no emotion name left out: %s; the model answers %s: "
                    "rename a folder that holds one of these for it (known names: %s), and leave out those of other "
                    "emotions (bored, contempt, ...)", root, len(media), ", ".join(media), ", ".join(EMOTIONS),
                    ", ".join(sorted(FOLDER_NAMES)))
    if others := [u for u in unknown if u not in media]:
        log.info("%s: %d folder(s) with no emotion name skipped: %s", root, len(others), ", ".join(others))


def _no_clips(root: Path, found: list[Path], unknown: list[str], counts: Skipped) -> str:
    """Why read_folders found no clip: no emotion folders, or emotion folders with no audio or video."""
    if not found:
        return f"{root}: no emotion folders{_no_folders_hint(root, unknown, counts)}"
    images = any(p.suffix.lower() in IMAGE_SUFFIXES for sub in found for p in corpus_files(sub, Skipped()))
    skipped = counts.summary().removeprefix(", ")
    return (f"{root}: its emotion folders ({', '.join(sub.name for sub in found)}) hold no audio or video files"
            + (f" ({skipped})" if skipped else "")
            + ("; they hold images: for faces pass fer2013=DIR or ckplus=DIR" if images else ""))


def _no_folders_hint(root: Path, unknown: list[str], counts: Skipped) -> str:
    """What to do where ``root`` holds no emotion folder: pass its parent (it is one), pass its folders (each
    holds emotion folders: a speaker's), sort the clips lying in it into emotion folders, or name its folders."""
    name = Path(os.path.abspath(root)).name
    if folder_emotion(name) and not unknown:
        return f": {name} is itself an emotion folder: pass the folder that holds it, folders={root.absolute().parent}"
    nested = [u for u in unknown if _holds_emotion_folders(root / u)]
    if nested:
        return (f": its folders {', '.join(nested)} hold emotion folders: pass each as a --data of its own, "
                f"e.g. folders={root / nested[0]}")
    loose = counts["files outside emotion folders"]
    if loose and not unknown:
        return (f": {loose} audio or video files lie in it, outside any emotion folder: sort them into sub-folders "
                f"named for their emotion (Angry/, Happy/, ...)")
    return f" (found folders: {', '.join(unknown) or 'none'}); known names: {', '.join(sorted(FOLDER_NAMES))}"


def _holds_emotion_folders(folder: Path) -> bool:
    try:
        return any(sub.is_dir() and folder_emotion(sub.name) for sub in folder.iterdir())
    except OSError:  # unreadable: not a layout to suggest
        return False


def _drop_copies(root: Path, samples: list[Sample], counts: Skipped) -> list[Sample]:
    """``samples`` less the later copies of a clip under the same emotion, counted and named in
    ``counts``; CorpusError where one clip is under two emotion folders. A copy is the same file through a
    link, or the same bytes (the digest that names its features in the cache, read once a process)."""
    first, kept = {}, []
    for s in samples:
        tag = media_tag(s.media) if s.media.stat().st_size >= STUB_BYTES else "unreadable"
        other = first.setdefault(s.media.resolve() if tag == "unreadable" else tag, s)
        if other.emotion != s.emotion:
            a, b = (x.media.relative_to(root).parts[0] for x in (other, s))
            raise CorpusError(f"{other.media} and {s.media} are the same clip, labelled both {a} and {b}: "
                              f"keep it in one emotion folder")
        if other is s:
            kept.append(s)
        else:
            counts.add("copies of another clip", s.media)
    return kept
