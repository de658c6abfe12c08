"""Corpus readers: MELD (CSV + optional clip folders) and RAVDESS (files named by their labels);
the other speech corpora (EMOVO, EMO-DB, CREMA-D, emotion folders) are in train/speech_corpora.py.

Each reader returns a list of ``Sample``: one utterance with the paths and text it has and its
labels as indices into mmsent.labels.EMOTIONS / SENTIMENTS (None where the corpus has no
counterpart: that sample trains only the head it has).

Label mapping (documented in mmsent.labels and checkpoints/default/MODEL_CARD.md):
- MELD uses our seven emotions and three sentiments verbatim.
- RAVDESS: neutral and calm -> neutral, happy -> joy, sad -> sadness, angry -> anger, fearful ->
  fear, disgust -> disgust, surprised -> surprise; no sentiment (surprise, for one, can be either).
  Its spoken sentence is known from the file name and is given to the text branch.
"""

from __future__ import annotations

import csv
import difflib
import functools
import hashlib
import logging
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from mmsent.labels import MELD_EMOTIONS, MELD_SENTIMENTS, RAVDESS_EMOTIONS, emotion_index, sentiment_index

log = logging.getLogger(__name__)

MELD_COLUMNS = ("Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID")
# MELD.Raw clip folder of each split, beside the CSVs.
MELD_CLIP_DIRS = {"train": "train_splits", "dev": "dev_splits_complete", "test": "output_repeated_splits_test"}
RAVDESS_STATEMENTS = {"01": "Kids are talking by the door.", "02": "Dogs are sitting by the door."}
RAVDESS_NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
# Curly quotes and dashes of the MELD transcripts, written as speech recognition writes them.
_TYPOGRAPHY = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2014": "-",
                             "\u2013": "-", "\u2026": "...", "\x92": "'", "\x91": "'", "\x85": "..."})


class CorpusError(ValueError):
    """A corpus path or file that can't be read: the message says which and what to do."""


class Skipped(Counter):
    """Files a reader leaves out, counted by reason; ``add`` also keeps the first names of a reason,
    so that the log says what they are (cover.jpg, .DS_Store)."""

    SHOWN = 3  # names shown per reason

    def __init__(self):
        super().__init__()
        self.names: dict[str, list[str]] = {}

    def add(self, reason: str, path: Path) -> None:
        self[reason] += 1
        shown = self.names.setdefault(reason, [])
        if len(shown) < self.SHOWN:
            shown.append(path.name)

    def summary(self) -> str:
        """", 2 other files skipped (cover.jpg, notes.txt), 1 broken links skipped (a.wav)" for the log."""
        def named(reason, n):
            shown = self.names.get(reason)
            return f" ({', '.join(shown)}{', ...' if n > len(shown) else ''})" if shown else ""
        return "".join(f", {n} {k} skipped{named(k, n)}" for k, n in sorted(self.items()) if n)


@dataclass
class Sample:
    """One utterance of a corpus."""

    id: str  # unique across corpora, e.g. "meld/train/dia0_utt1", "ravdess/03-01-05-01-01-01-12"
    corpus: str  # "meld", "ravdess", ...
    text: str | None  # transcript, None when unknown
    emotion: int | None  # index into EMOTIONS, None: no counterpart / unlabelled
    sentiment: int | None  # index into SENTIMENTS, None: no sentiment label
    media: Path | None = None  # audio or video file of the utterance (whole file = the utterance)
    has_video: bool = False  # the media file holds the speaker's face
    context: tuple[str, ...] = ()  # previous utterances of the conversation, oldest first
    group: str = ""  # dialogue or actor: splits never cut a group
    # A joined sample (train.joint) takes each modality's features from another sample: (modality, id)
    parts: tuple[tuple[str, str], ...] = ()
    # > 0: a training copy whose sound is perturbed before its features (train.extract.perturb_waveform)
    augment: int = 0
    # a training copy cut where its speech ends, as the analysis cuts a segment (train.extract.clip_audio)
    cut: bool = False

    @property
    def original(self) -> bool:
        """Not a training copy (perturbed or cut): what the voice bank keeps and dev sets hold."""
        return not (self.augment or self.cut)

    def feature_id(self, modality: str) -> str:
        """The id under which this sample's features of ``modality`` are cached. The words' id names
        what is read (text and context), so an edited transcript is encoded again, never served stale,
        and a sample without words names words nobody encodes."""
        parts = dict(self.parts)
        if modality in parts:
            return parts[modality]
        if modality == "text":
            words = "\n".join((*self.context, self.text or "")).encode()
            return f"{self.id}#{hashlib.sha256(words).hexdigest()[:12]}"
        return f"{self.id}@{media_tag(self.media)}" if self.media is not None else self.id


def media_tag(path: Path) -> str:
    """What names a media file's content in the feature cache: a digest of its bytes, so that another
    file under the same corpus name (a copy of RAVDESS through a telephone band, another folder of your
    own clips) or the same file rewritten is read again, never served stale features, while the same
    files copied elsewhere or provisioned afresh keep their features. Each file is read once a process
    for as long as its size and modification time stay the same."""
    try:
        st = os.stat(path)
    except OSError:
        return "unreadable"  # its features fail and are counted, never cached
    return _digest(str(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=None)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()[:16]
    except OSError:
        return "unreadable"


def clean_text(text: str) -> str:
    """Normalise transcript typography (curly quotes, dashes, mojibake) and whitespace."""
    return " ".join(text.translate(_TYPOGRAPHY).replace("\u00c2", "").split())


def split_name(csv_path: Path) -> str:
    name = csv_path.name.lower()
    for split in MELD_CLIP_DIRS:
        if name.startswith(split):
            return split
    return csv_path.stem


def read_meld(csv_path: str | Path, clips: str | Path | None = None, context: int = 0) -> list[Sample]:
    """Read a MELD-format CSV (``{train,dev,test}_sent_emo.csv`` or any file with its columns).

    clips: folder of ``dia{D}_utt{U}.mp4`` clips; None looks for MELD.Raw's folder of the split
    beside the CSV. Utterances without a clip are text-only (counted in the log). context: number
    of previous utterances of the same dialogue kept as ``Sample.context``.
    """
    path = Path(csv_path)
    if not path.is_file():
        raise CorpusError(f"{path}: MELD CSV not found; pass a file such as dev_sent_emo.csv")
    split = split_name(path)
    clip_dir = Path(clips) if clips else path.parent / MELD_CLIP_DIRS.get(split, f"{split}_splits")
    has_clips = clip_dir.is_dir()
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except UnicodeDecodeError as e:
        raise CorpusError(f"{path}: not UTF-8 text ({e}); MELD CSVs are UTF-8") from e
    missing = [c for c in MELD_COLUMNS if rows and c not in rows[0]]
    if not rows or missing:
        raise CorpusError(f"{path}: not a MELD CSV (missing columns {missing or list(MELD_COLUMNS)})")
    samples, history, counts = [], {}, Counter()
    for line, row in enumerate(rows, start=2):
        try:
            dia, utt = int(row["Dialogue_ID"]), int(row["Utterance_ID"])
        except (TypeError, ValueError) as e:
            raise CorpusError(f"{path}, line {line}: Dialogue_ID/Utterance_ID are not integers") from e
        text = clean_text(row["Utterance"] or "")
        emotion = emotion_index(row["Emotion"] or "", MELD_EMOTIONS)
        sentiment = sentiment_index(row["Sentiment"] or "", MELD_SENTIMENTS)
        counts["unknown label"] += emotion is None and sentiment is None
        past = history.setdefault(dia, [])
        clip = clip_dir / f"dia{dia}_utt{utt}.mp4" if has_clips else None
        if clip is not None and not clip.is_file():  # MELD.Raw's test folder names some clips so
            clip = clip.with_name(f"final_videos_test{clip.name}")
        if clip is not None and not clip.is_file():
            counts["missing clip"] += 1
            clip = None
        samples.append(Sample(
            id=f"{path.stem}/dia{dia}_utt{utt}", corpus="meld", text=text or None, emotion=emotion,
            sentiment=sentiment, media=clip, has_video=clip is not None,
            context=tuple(past[-context:]) if context else (), group=f"dia{dia}"))
        if text:
            past.append(text)  # plain text, as the app's transcripts give it (no speaker names)
    log.info("%s: %d utterances, clips %s%s", path, len(samples), clip_dir if has_clips else "none (text only)",
             "".join(f", {n} {k}" for k, n in counts.items() if n))
    return samples


def parse_actors(spec: str | None) -> set[int] | None:
    """"1-16" or "17,18,20" -> {1, ..., 16}; None or "" -> None (all actors). A range open at one end
    ("21-") or reversed ("18-17") is refused: it would select one actor, or none, without a word."""
    if not spec:
        return None
    actors = set()
    for part in str(spec).split(","):
        part = part.strip()
        lo, dash, hi = part.partition("-")
        if dash and not (lo.strip() and hi.strip()):
            raise _bad_actors(spec, f"the range {part!r} is open-ended (give both ends)")
        try:
            first, last = int(lo), int(hi or lo)
        except ValueError as e:
            raise _bad_actors(spec) from e
        if last < first:
            raise _bad_actors(spec, f"the range {part!r} is reversed (write it {last}-{first})")
        actors |= set(range(first, last + 1))
    return actors


def _bad_actors(spec: str, why: str = "") -> CorpusError:
    return CorpusError(f"bad actor list {spec!r}: {why + '; ' if why else ''}use e.g. '1-16' or '17,18,19,20'")


def corpus_files(root: Path, skipped: Skipped) -> list[Path]:
    """The files below ``root`` at any depth, sorted by path. Linked folders are followed, each real
    folder once (a link back up makes no loop); the paths keep the links' names. Hidden files and
    folders (macOS's ``._a1.wav`` and ``.DS_Store``, ``.git``) and broken links are left out, counted in
    ``skipped``."""
    files, folders, seen = [], [root], set()
    while folders:
        folder = folders.pop()
        real = folder.resolve()
        if real in seen:
            continue
        seen.add(real)
        try:
            entries = sorted(folder.iterdir())  # names in the log in a fixed order
        except OSError:
            skipped.add("unreadable folders", folder)
            continue
        for path in entries:
            if path.name.startswith("."):
                skipped.add("hidden files or folders", path)
            elif path.is_dir():
                folders.append(path)
            elif path.is_file():
                files.append(path)
            else:
                skipped.add("broken links" if path.is_symlink() else "other files", path)
    return sorted(files)


def read_ravdess(folder: str | Path, actors: set[int] | str | None = None) -> list[Sample]:
    """Read RAVDESS speech files (any depth, e.g. ``Actor_01/03-01-05-01-01-01-01.wav``).

    Labels come from the file names; song (vocal channel 02) and video-only files are skipped, and
    files of other names or kinds are counted and named in the log, as the other speech corpora's are
    (train.speech_corpora.media_files: a clip's copies in several folders or containers are read once).
    actors: keep only these actors (split by actor, never by clip).
    """
    from .speech_corpora import media_files  # it imports Sample from here

    root = corpus_folder(folder, "RAVDESS", "Actor_XX/ folders")
    keep = parse_actors(actors) if isinstance(actors, str) or actors is None else set(actors)
    samples, counts, seen = [], Skipped(), set()
    for path in media_files(root, counts):
        m = RAVDESS_NAME.match(path.stem)
        if not m:
            counts.add("files with other names", path)
            continue
        modality, channel, emo, _, statement, _, actor = m.groups()
        if channel != "01" or modality == "02":
            counts["song or video-only"] += 1
            continue
        seen.add(int(actor))
        if keep is not None and int(actor) not in keep:
            continue
        label = RAVDESS_EMOTIONS.get(emo)
        if label is None or statement not in RAVDESS_STATEMENTS or modality not in ("01", "03"):
            counts.add("unknown code", path)
            continue
        samples.append(Sample(
            id=f"ravdess/{path.stem}", corpus="ravdess", text=RAVDESS_STATEMENTS[statement],
            emotion=emotion_index(label, {label: label}), sentiment=None, media=path,
            has_video=modality == "01", group=f"actor{actor}"))
    if not samples:
        its = f" (its actors: {', '.join(map(str, sorted(seen)))})" if seen else ""
        raise CorpusError(f"{root}: no RAVDESS speech files (MM-VV-EE-II-SS-RR-AA.wav/.flac/.mp4) found"
                          + (f" for actors {sorted(keep)}{its}" if keep else ""))
    missing = sorted(keep - {int(s.group.removeprefix("actor")) for s in samples}) if keep else []
    if missing:  # a typo in a range, or actors this copy lacks (the shared data's has no actor 5)
        log.warning("%s: no clips of actor%s %s, asked for", root, "s" if len(missing) > 1 else "",
                    ", ".join(map(str, missing)))
    log.info("%s: %d speech clips%s", root, len(samples), counts.summary())
    return samples


def split_filter(where: str) -> tuple[str, str]:
    """"DIR:FILTER" -> (DIR, FILTER); a path that exists as written keeps any colon it holds."""
    if Path(where).exists() or ":" not in where:
        return where, ""
    folder, _, keep = where.rpartition(":")
    return folder, keep


def corpus_folder(folder: str | Path, corpus: str, layout: str) -> Path:
    """``folder`` as a Path; CorpusError where it is not a folder, saying what to pass instead."""
    if not str(folder):  # Path("") would be the current folder
        raise CorpusError(f"the {corpus} folder's path is empty; pass the folder holding {layout}")
    root = Path(folder)
    if not root.is_dir():
        raise CorpusError(f"{root}: {'a file, not a folder' if root.is_file() else f'{corpus} folder not found'}; "
                          f"pass the folder holding {layout}")
    return root


def unique_key(name: str, taken) -> str:
    """``name``, or ``name-2``, ``name-3``, ... where it is taken: a corpus named twice keeps both reports
    (ravdess=DIR:21-24 and ravdess=DIR:5: ravdess, ravdess-2)."""
    key, n = name, 2
    while key in taken:
        key, n = f"{name}-{n}", n + 1
    return key


# What each --data kind's path names, for the message when it is empty.
DATA_PATHS = {"meld": "CSV file (meld=PATH/dev_sent_emo.csv)", "goemotions": "TSV file (goemotions=PATH/dev.tsv)",
              "fer2013": "folder or fer2013.csv (fer2013=PATH/fer2013/test)", "ckplus": "folder (ckplus=PATH/CK+48)",
              "folders": "folder (folders=PATH/my_clips)", "ravdess": "folder (ravdess=PATH/RAVDESS:21-24)",
              "emovo": "folder (emovo=PATH/EMOVO:m3)", "emodb": "folder (emodb=PATH/EMO-DB)",
              "cremad": "folder (cremad=PATH/CREMA-D)"}


FILTERS = {"ravdess": "actors (e.g. 17-20)", "emovo": "speakers (e.g. f1,m3)", "emodb": "speakers (e.g. 03,16)",
           "cremad": "speakers (e.g. 1001,1002)", "fer2013": "split (e.g. PrivateTest)"}  # what may follow DIR:


CORPORA = ("meld", "ravdess", "emovo", "emodb", "cremad", "goemotions", "fer2013", "ckplus", "folders")


def _mistyped(spec: str) -> str | None:
    """What is wrong with a spec that means another (``Folders=DIR``, ``folder=DIR``, ``folders:DIR``,
    ``folders= DIR``), and the spec it means; None where it is right, or where none is close."""
    kind, sep, where = spec.partition("=" if "=" in spec else ":")
    if kind in CORPORA and sep == "=":
        if where == where.strip() or Path(where).exists():
            return None
        meant, why = kind, f"the path {where!r} starts or ends with a space"
    else:
        close = difflib.get_close_matches(kind.strip().lower(), CORPORA, n=1, cutoff=0.8)
        if not close or not sep:
            return None
        meant = close[0]
        why = "a corpus's name is followed by '=', not ':'" if sep == ":" else f"{kind!r} is no corpus's name"
    return f"--data {spec!r}: {why}; did you mean {meant}={where.strip()}?"


def user_path(path: str) -> str:
    """A path as given, its leading ~ expanded: "~/My clips" quoted, --out=~/runs or --data=folders=~/clips reach
    the program unexpanded (no shell expands them). Every path option of train.train, train.evaluate, train.served,
    train.familiarity, train.ensemble and train.fer reads through it (their argparse ``type``), as --data's specs
    do."""
    return os.path.expanduser(path)


def home_as_tilde(text: str) -> str:
    """``text`` (a path, a --data spec, a command line) with the user's home folder written ~ where a path starts with
    it ("/home/u/clips" -> "~/clips", "--data folders=/home/u/clips:" -> "--data folders=~/clips:"): what a
    checkpoint records of the paths it was trained with names no one's home folder when shared, and user_path reads
    it back as the reader's own."""
    home = os.path.expanduser("~").rstrip(os.sep)
    sep = re.escape(os.sep)
    return re.sub(rf"(?<![^\s=:]){re.escape(home)}(?=$|[\s:{sep}])", "~", text) if home else text


def command_line(module: str, argv: list[str] | None) -> str:
    """``python -m module`` with its arguments ``argv`` (None: this process's), as a checkpoint records the command
    that made it (``home_as_tilde``)."""
    return home_as_tilde(f"python -m {module} " + " ".join(sys.argv[1:] if argv is None else argv))


def shared_path(path: str) -> str:
    """A path as a checkpoint records it: absolute, the home folder written ~ ("clips" run in /home/u: "~/clips",
    in /data: "/data/clips")."""
    return home_as_tilde(os.path.abspath(user_path(path)))


def shared_spec(spec: str) -> str:
    """A --data spec with its path as shared_path writes it ("folders=clips" run in /home/u: "folders=~/clips";
    "ravdess=R:1-4": "ravdess=~/R:1-4"), as a checkpoint records it: train.heldout then tells its clips from any
    folder (of any user whose home holds them there)."""
    kind, sep, where = spec.partition("=")
    folder, keep = split_filter(user_path(where))
    return f"{kind}={shared_path(folder)}{':' + keep if keep else ''}" if sep and folder else spec


def read_data_spec(spec: str, context: int = 0) -> tuple[str, list[Sample]]:
    """A ``--data`` spec -> (name, samples): "meld=PATH.csv", "ravdess=DIR[:ACTORS]" (e.g. 17-20),
    "emovo=DIR[:SPEAKERS]" (e.g. f1,m3), "emodb=DIR[:SPEAKERS]", "cremad=DIR[:SPEAKERS]", "goemotions=PATH.tsv",
    "fer2013=DIR[:SPLIT]" (DIR/<class>/*.jpg, one split, or the corpus folder and a split),
    "fer2013=PATH.csv:SPLIT" (the challenge's file, e.g. fer2013.csv:PrivateTest), "ckplus=DIR" (CK+48:
    DIR/<class>/*.png) or
    "folders=DIR" (DIR/<emotion>/<file>; named after the folder itself, e.g. "test_set")."""
    from .speech_corpora import read_cremad, read_emodb, read_emovo, read_folders  # they import Sample from here

    kind, sep, where = spec.partition("=")
    if meant := _mistyped(spec):
        raise CorpusError(meant)
    if not sep:
        raise CorpusError(f"bad --data {spec!r}: use meld=PATH.csv, ravdess=DIR[:ACTORS], emovo=DIR[:SPEAKERS], "
                          f"emodb=DIR, cremad=DIR, goemotions=PATH.tsv, fer2013=DIR, ckplus=DIR or folders=DIR")
    where = user_path(where)
    folder, keep = split_filter(where)
    if kind in DATA_PATHS and not folder:  # an unset shell variable: Path("") is the current folder
        raise CorpusError(f"--data {spec}: the path is empty; give the {DATA_PATHS[kind]}")
    if kind in FILTERS and folder != where and not keep:  # "DIR:": an unset shell variable, not "all"
        raise CorpusError(f"--data {spec}: nothing follows ':' (an unset variable?): give the {FILTERS[kind]} after "
                          "it, or leave out the ':' for all")
    if kind in ("folders", "ckplus", "goemotions", "meld") and keep:
        raise CorpusError(f"--data {spec}: {kind}= takes a path alone, not a list of speakers or a split after ':' "
                          f"({folder} and {keep!r})")
    if kind == "meld":
        return kind, read_meld(where, context=context)
    if kind == "goemotions":
        from .text_corpora import read_goemotions

        return kind, read_goemotions(where)
    if kind == "fer2013":
        from .face_corpora import read_fer2013

        return kind, read_fer2013(folder, keep or None)
    if kind == "ckplus":
        from .face_corpora import read_ck48

        return kind, read_ck48(where)
    if kind == "folders":
        samples = read_folders(where)
        return samples[0].corpus, samples
    readers = {"ravdess": read_ravdess, "emovo": read_emovo, "emodb": read_emodb, "cremad": read_cremad}
    if kind in readers:
        return kind, readers[kind](folder, keep or None)
    raise CorpusError(f"unknown corpus {kind!r} in --data {spec!r}: known are meld, ravdess, emovo, emodb, "
                      f"cremad, goemotions, fer2013, ckplus and folders")
