"""Face image corpora: FER2013 (folder layout) and CK+48, as ``train.corpora.Sample`` lists.

- FER2013, the folder layout of the public mirrors: ``DIR/<class>/<name>.jpg`` for one split
  (``train``, ``validation``/``PublicTest``, ``test``/``PrivateTest``), classes ``angry disgust
  fear happy neutral sad surprise`` (the mirror's names; ``anger``, ``joy``, ``sadness``... and
  the other spellings in FACE_CLASSES are read too). The 48x48 grey images are already face crops.
- CK+48: ``DIR/<anger|contempt|disgust|fear|happy|sadness|surprise>/<S005_001_00000011>.png``
  (48x48 crops of the last frames of CK+ sequences). Contempt has no counterpart among EMOTIONS
  and is left out.

Each image is one ``Sample``: id ``<corpus>/<split>/<file stem>``, text None, sentiment None,
``media`` = the image, ``has_video`` True (it shows a face), ``group`` = the file stem (CK+
callers who split by subject can use the stem's ``S005`` prefix).
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

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
CK48_CLASSES = ("anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")


def read_face_folder(folder: str | Path, corpus: str, split: str | None = None) -> list[Sample]:
    """Read ``folder/<class>/<image>`` with class folder names from FACE_CLASSES.

    split: the middle part of the ids; None uses the folder's own name. Unknown class folders
    raise CorpusError (a wrong folder is more likely than a new class); images are sorted by path.
    """
    root = Path(folder)
    if not root.is_dir():
        raise CorpusError(f"{root}: {corpus} folder not found; pass the folder holding one class folder per emotion")
    classes = sorted(p for p in root.iterdir() if p.is_dir())
    unknown = [p.name for p in classes if p.name.lower() not in FACE_CLASSES]
    if unknown or not classes:
        raise CorpusError(f"{root}: not a {corpus} split folder (class folders found: "
                          f"{[p.name for p in classes] or 'none'}; expected some of {sorted(FACE_CLASSES)})")
    split = split or root.name
    samples, skipped = [], Counter()
    for class_dir in classes:
        name = FACE_CLASSES[class_dir.name.lower()]
        for image in sorted(class_dir.iterdir()):
            if image.suffix.lower() not in IMAGE_SUFFIXES:
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


def read_fer2013(folder: str | Path, split: str | None = None) -> list[Sample]:
    """FER2013 in the mirror's layout: ``folder`` is one split (``.../fer2013/train``), or the
    corpus folder with ``split`` naming the sub-folder (``read_fer2013(".../fer2013", "validation")``)."""
    root = Path(folder)
    if split is not None:
        if not (root / split).is_dir():
            raise CorpusError(f"{root}: no FER2013 split folder {split!r} (found: "
                              f"{sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else 'nothing'})")
        root = root / split
    return read_face_folder(root, "fer2013", split)


def read_ck48(folder: str | Path) -> list[Sample]:
    """CK+48: ``folder/<anger|contempt|disgust|fear|happy|sadness|surprise>/*.png``; contempt left out."""
    return read_face_folder(folder, "ck48", "all")
