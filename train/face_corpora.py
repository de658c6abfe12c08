"""Face image corpora: FER2013 (folder layout) and CK+48, as ``train.corpora.Sample`` lists.

- FER2013, the folder layout of the public mirrors: ``DIR/<class>/<name>.jpg`` for one split
  (``train``, ``validation``/``PublicTest``, ``test``/``PrivateTest``), classes ``angry disgust
  fear happy neutral sad surprise`` (the mirror's names; ``anger``, ``joy``, ``sadness``... and
  the other spellings in FACE_CLASSES are read too). The 48x48 grey images are already face crops.
- FER2013, the challenge's own file: ``fer2013.csv`` (columns ``emotion,pixels,Usage``; Kaggle's
  ``icml_face_data.csv`` has the same columns in another order), one row per face: the emotion
  0-6 (angry, disgust, fear, happy, sad, surprise, neutral), 2,304 grey values and the split
  (``Training``, ``PublicTest``, ``PrivateTest``). Its images are written once, in the mirrors'
  layout, under ``mmsent.asr_models.cache_dir()/fer2013-csv/`` and read from there.
- CK+48: ``DIR/<anger|contempt|disgust|fear|happy|sadness|surprise>/<S005_001_00000011>.png``
  (48x48 crops of the last frames of CK+ sequences). Contempt has no counterpart among EMOTIONS
  and is left out.

Each image is one ``Sample``: id ``<corpus>/<split>/<file stem>``, text None, sentiment None,
``media`` = the image, ``has_video`` True (it shows a face), ``group`` = the file stem (CK+
callers who split by subject can use the stem's ``S005`` prefix).
"""

from __future__ import annotations

import csv
import logging
import os
import shutil
from collections import Counter
from pathlib import Path

import numpy as np

from mmsent.labels import EMOTIONS
from train.corpora import CorpusError, Sample

log = logging.getLogger(__name__)

# Folder names of face corpora -> EMOTIONS names; None: no counterpart (left out).
FACE_CLASSES = {
    "angry": "anger", "anger": "anger", "disgust": "disgust", "disgusted": "disgust",
    "fear": "fear", "fearful": "fear", "happy": "joy", "happiness": "joy", "joy": "joy",
    "neutral": "neutral", "sad": "sadness", "sadness": "sadness",
    "surprise": "surprise", "surprised": "surprise", "contempt": None,
}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}
# fer2013.csv: its emotion numbers 0-6 (the mirrors' class folder names), and its splits by the
# names the mirrors and this project give them (train, validation, test) or by its own.
FER_CSV_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FER_CSV_USAGES = ("Training", "PublicTest", "PrivateTest")
FER_CSV_SPLITS = {"train": "Training", "validation": "PublicTest", "test": "PrivateTest",
                  **{u.lower(): u for u in FER_CSV_USAGES}}


def read_face_folder(folder: str | Path, corpus: str, split: str | None = None) -> list[Sample]:
    """Read ``folder/<class>/<image>`` with class folder names from FACE_CLASSES.

    split: the middle part of the ids; None uses the folder's own name. Unknown class folders
    raise CorpusError (a wrong folder is more likely than a new class); images are sorted by path.
    """
    root = Path(folder)
    if not root.is_dir():
        raise CorpusError(f"{root}: {corpus} folder not found; pass the folder holding one class folder per emotion")
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))  # .ipynb_checkpoints
    unknown = [p.name for p in classes if p.name.lower() not in FACE_CLASSES]
    if unknown or not classes:
        splits = [p.name for p in classes if p.name.lower() in FER_CSV_SPLITS]
        hint = f"; for one split pass {corpus}={root / splits[0]}" if splits else ""
        raise CorpusError(f"{root}: not a {corpus} split folder (class folders found: "
                          f"{[p.name for p in classes] or 'none'}; expected some of {sorted(FACE_CLASSES)}){hint}")
    split = split or root.name
    samples, skipped = [], Counter()
    for class_dir in classes:
        name = FACE_CLASSES[class_dir.name.lower()]
        for image in sorted(class_dir.iterdir()):
            if image.suffix.lower() not in IMAGE_SUFFIXES or image.name.startswith("."):  # macOS's ._a.jpg
                continue
            if name is None:
                skipped[class_dir.name] += 1
                continue
            samples.append(Sample(id=f"{corpus}/{split}/{image.stem}", corpus=corpus, text=None,
                                  emotion=EMOTIONS.index(name), sentiment=None, media=image,
                                  has_video=True, group=image.stem))
    if not samples:
        raise CorpusError(f"{root}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in its class folders")
    if skipped:
        log.info("%s: left out %s (no counterpart among the emotions)", root, dict(skipped))
    log.info("%s %s: %d images %s", corpus, split, len(samples),
             dict(Counter(EMOTIONS[s.emotion] for s in samples)))
    return samples


def fer2013_csv_images(path: str | Path) -> Path:
    """The faces of ``fer2013.csv`` as image files, written once: a folder of ``<Usage>/<class>/
    <Usage>_<row>.png`` (row: the 0-based data row in the file), keyed by the file's sha256."""
    from PIL import Image

    from mmsent.asr_models import cache_dir
    from mmsent.weights import sha256_file

    path = Path(path)
    out = cache_dir() / "fer2013-csv" / sha256_file(path)[:16]
    if out.is_dir():
        return out
    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = csv.reader(f)
        header = [c.strip().lower() for c in next(rows, [])]
        if not {"emotion", "pixels", "usage"} <= set(header):
            raise CorpusError(f"{path}: not the FER2013 file: its columns are {header}, expected emotion, pixels and "
                              "Usage (fer2013.csv or icml_face_data.csv)")
        emotion, pixels, usage = (header.index(c) for c in ("emotion", "pixels", "usage"))
        for row, values in enumerate(rows):
            try:
                image = np.array(values[pixels].split(), dtype=np.uint8).reshape(48, 48)
                name = FER_CSV_CLASSES[int(values[emotion])]
                split = values[usage].strip()
                if split not in FER_CSV_USAGES:
                    raise ValueError(f"unknown Usage {split!r}")
            except (IndexError, ValueError) as e:
                shutil.rmtree(tmp, ignore_errors=True)
                raise CorpusError(f"{path}: data row {row} is not a FER2013 face (an emotion 0-6, 2,304 grey values "
                                  f"0-255 and a Usage): {e}") from None
            folder = tmp / split / name
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(folder / f"{split}_{row}.png")
    if not tmp.is_dir():
        raise CorpusError(f"{path}: no faces in the file")
    try:
        tmp.rename(out)
    except OSError:  # another process wrote it first
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def read_fer2013(folder: str | Path, split: str | None = None) -> list[Sample]:
    """FER2013 in the mirror's layout: ``folder`` is one split (``.../fer2013/train``), or the
    corpus folder with ``split`` naming the sub-folder (``read_fer2013(".../fer2013", "validation")``).
    Or the challenge's own ``fer2013.csv`` with ``split`` naming its part: train/Training,
    validation/PublicTest or test/PrivateTest (``read_fer2013("fer2013.csv", "PrivateTest")``)."""
    root = Path(folder)
    if root.suffix.lower() == ".csv":
        if not root.is_file():
            raise CorpusError(f"{root}: FER2013 file not found")
        if split is None or split.lower() not in FER_CSV_SPLITS:
            raise CorpusError(f"{root}: name one of its splits, e.g. fer2013={root}:PrivateTest (Training, PublicTest "
                              f"or PrivateTest; got {split!r})")
        images, usage = fer2013_csv_images(root), FER_CSV_SPLITS[split.lower()]
        if not (images / usage).is_dir():  # it named the folder of images written from the file, not the file
            has = ", ".join(sorted(p.name for p in images.iterdir()))
            raise CorpusError(f"{root}: no face of its Usage {usage} (it has {has})")
        return read_face_folder(images / usage, "fer2013", split)
    if split is not None:
        if not (root / split).is_dir():
            raise CorpusError(f"{root}: no FER2013 split folder {split!r} (found: "
                              f"{sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else 'nothing'})")
        root = root / split
    return read_face_folder(root, "fer2013", split)


def read_ck48(folder: str | Path) -> list[Sample]:
    """CK+48: ``folder/<anger|contempt|disgust|fear|happy|sadness|surprise>/*.png``; contempt left out."""
    return read_face_folder(folder, "ck48", "all")
