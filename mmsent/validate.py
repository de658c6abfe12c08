"""Checks of an analysis read back from JSON (``Analysis.from_dict``): each names the key that is
wrong and what it should be, so a hand-edited or truncated file is refused with a clear message."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mmsent.labels import MODALITIES, TASKS, check_scored

if TYPE_CHECKING:
    from mmsent.results import MediaFacts, SegmentResult

SUM_TOLERANCE = 0.01  # a reading's probabilities must sum to 1 within this (rounded files)
TIME_SLACK = 0.001  # s a segment may end past media.duration: the pipeline rounds times to the millisecond
ROTATIONS = (0, 90, 180, 270)  # media.rotation: degrees clockwise, as probing normalises it
CONTRIBUTION_SLACK = 1e-6  # a contribution (a distance <= 1) computed in float32 may pass 1 by rounding
MISSING = object()  # a key's value where the key is not there (check_version; null is a value, a wrong one)


def check_version(version, current: int, readable: tuple[int, ...]) -> None:
    if version is MISSING:
        raise ValueError("not an mmsent analysis: the key 'schema_version' is missing")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"mmsent analysis: schema_version {version!r} is not a positive integer")
    if version > current:
        raise ValueError(
            f"this analysis has schema_version {version}, newer than this mmsent reads "
            f"({current}): upgrade mmsent to read it"
        )
    if version not in readable:
        raise ValueError(f"mmsent analysis: schema_version {version} is no longer supported")


def check_numbers(seg: dict, i: int) -> None:
    """Times are numbers; emotion and sentiment are non-empty mappings of label to number."""
    for key in ("start", "end"):
        if not is_number(seg[key]):
            raise ValueError(f"mmsent analysis: segments[{i}].{key} is {seg[key]!r}, not a number")
    for key in ("emotion", "sentiment"):
        probs = seg[key]
        if not isinstance(probs, dict) or not probs or not all(map(is_number, probs.values())):
            raise ValueError(f"mmsent analysis: segments[{i}].{key} must map labels to probabilities, "
                             f"got {probs!r}")


def checked_readings(value, seg: SegmentResult, where: str) -> dict:
    """``per_modality`` of a segment, checked and in label order; {} when missing or null."""
    if value is None:
        return {}
    where = f"mmsent analysis: {where}.per_modality"
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be an object (modality -> reading), got {type(value).__name__}")
    readings = {}
    for m, reading in value.items():
        if m not in MODALITIES:
            raise ValueError(f"{where} has the unknown modality {m!r}: expected one of {MODALITIES}")
        if m not in seg.modalities:
            raise ValueError(f"{where} has a reading for {m!r}, a modality not used in this segment "
                             f"(modalities: {seg.modalities})")
        if not isinstance(reading, dict) or set(reading) != set(TASKS):
            raise ValueError(f"{where}.{m} must be an object with exactly the keys {TASKS}, got {reading!r}")
        fused = {"emotion": seg.emotion, "sentiment": seg.sentiment}
        readings[m] = {t: checked_probs(reading[t], tuple(fused[t]), f"{where}.{m}.{t}") for t in TASKS}
    return {m: readings[m] for m in MODALITIES if m in readings}


def checked_probs(probs, labels: tuple[str, ...], where: str) -> dict[str, float]:
    """A label -> probability mapping over exactly ``labels``: finite, in [0, 1], summing to 1."""
    if not isinstance(probs, dict):
        raise ValueError(f"{where} must map labels to probabilities, got {probs!r}")
    unknown, missing = set(probs) - set(labels), set(labels) - set(probs)
    if unknown or missing:
        raise ValueError(f"{where} must have the labels {labels}: unknown {sorted(unknown)}, "
                         f"missing {sorted(missing)}")
    for k, p in probs.items():
        if not is_number(p) or not math.isfinite(p) or not 0.0 <= p <= 1.0:
            raise ValueError(f"{where}.{k} is {p!r}, not a probability in [0, 1]")
    total = sum(probs.values())
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise ValueError(f"{where} sums to {total:.4f}, not 1")
    return {k: float(probs[k]) for k in labels}


def checked_box(box, where: str) -> list[float] | None:
    """``face_box``: null, or [x0, y0, x1, y1] inside [0, 1] with x0 < x1 and y0 < y1."""
    if box is None:
        return None
    if (not isinstance(box, list) or len(box) != 4
            or not all(is_number(v) and math.isfinite(v) for v in box)):
        raise ValueError(f"mmsent analysis: {where}.face_box must be null or [x0, y0, x1, y1] "
                         f"(numbers), got {box!r}")
    x0, y0, x1, y1 = box
    if not (0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0):
        raise ValueError(f"mmsent analysis: {where}.face_box {box!r} must lie inside the frame "
                         "(0..1) with x0 < x1 and y0 < y1")
    return [float(v) for v in box]


def checked_text(value, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"mmsent analysis: {where} must be a string, got {value!r}")
    return value


def is_number(x) -> bool:
    """An int or a float, not a bool, that a float can hold (an int of 400 digits is none)."""
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        return False
    try:
        float(x)
    except OverflowError:
        return False
    return True


def require(d, keys, where: str) -> None:
    if not isinstance(d, dict):
        raise ValueError(f"mmsent analysis: {where} must be an object, got {type(d).__name__}")
    missing = [k for k in keys if k not in d]
    if missing:
        raise ValueError(f"mmsent analysis: {where} lacks the key(s) {', '.join(missing)}")


def checked_media(m, keys: tuple[str, ...]) -> MediaFacts:
    """``media``, with the facts exports rely on checked: the path, a finite duration, the stream flags."""
    from mmsent.results import MediaFacts

    require(m, keys, "media")
    if not isinstance(m["path"], str):
        raise ValueError(f"mmsent analysis: media.path must be a string, got {m['path']!r}")
    duration = m["duration"]
    if not is_number(duration) or not math.isfinite(duration) or duration < 0:
        raise ValueError(f"mmsent analysis: media.duration must be a finite number of seconds >= 0, "
                         f"got {duration!r}")
    for key in ("has_audio", "has_video"):
        if not isinstance(m[key], bool):
            raise ValueError(f"mmsent analysis: media.{key} must be true or false, got {m[key]!r}")
    for key in ("width", "height"):
        if m.get(key) is not None and not (isinstance(m[key], int) and not isinstance(m[key], bool) and m[key] > 0):
            raise ValueError(f"mmsent analysis: media.{key} must be null or a number of pixels > 0, got {m[key]!r}")
    fps = m.get("fps")
    if fps is not None and not (is_number(fps) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"mmsent analysis: media.fps must be null or a number of frames per second > 0, got {fps!r}")
    if m.get("rotation", 0) not in ROTATIONS or isinstance(m.get("rotation"), bool):
        raise ValueError(f"mmsent analysis: media.rotation must be one of {ROTATIONS} (degrees), "
                         f"got {m['rotation']!r}")
    track = m.get("audio_track")
    if track is not None and not ((isinstance(track, int) and not isinstance(track, bool) and track >= 1)
                                  or (isinstance(track, str) and track)):
        raise ValueError(f"mmsent analysis: media.audio_track must be null, a track's number >= 1 or a language "
                         f"code, got {track!r}")
    return MediaFacts(**{k: v for k, v in m.items() if k in MediaFacts.__dataclass_fields__})


def check_order(segments: list[SegmentResult], has_video: bool) -> None:
    """Segments in time order, none overlapping the one before (times are rounded to the millisecond);
    a face box only where the media has a picture."""
    for i, (before, seg) in enumerate(zip(segments, segments[1:]), start=1):
        if seg.start < before.end - TIME_SLACK:
            raise ValueError(f"mmsent analysis: segments[{i}] starts at {seg.start} s, before segments[{i - 1}] "
                             f"ends ({before.end} s): segments must be in time order and must not overlap")
    if not has_video:
        boxed = next((i for i, s in enumerate(segments) if s.face_box is not None), None)
        if boxed is not None:
            raise ValueError(f"mmsent analysis: segments[{boxed}].face_box is set, but media.has_video is false")


def model_labels(model: dict, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """The labels every segment must have: those the model names (``model.emotions``), else the
    canonical ones. Not segment 0's: a segment 0 short of a label would drop it from every export."""
    labels = model.get(key)
    if labels is None:
        return default
    if (not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels)
            or len(set(labels)) != len(labels)):
        raise ValueError(f"mmsent analysis: model.{key} must be a list of distinct label names, got {labels!r}")
    if key == "sentiments":
        check_scored(labels, "mmsent analysis: model.sentiments")
    return tuple(labels)


def checked_segment(s, i: int, labels: dict[str, tuple[str, ...]], duration: float, keys: tuple[str, ...],
                    kinds: tuple[str, ...]) -> SegmentResult:
    """``segments[i]``: times within the media, text, labels as the file's, probabilities, senses."""
    from mmsent.results import SegmentResult

    where = f"segments[{i}]"
    require(s, keys, where)
    check_numbers(s, i)
    start, end = s["start"], s["end"]
    for key, t in (("start", start), ("end", end)):
        if not math.isfinite(t):
            raise ValueError(f"mmsent analysis: {where}.{key} is {t!r}, not a finite number of seconds")
    if start > end:
        raise ValueError(f"mmsent analysis: {where}.start ({start}) is after its end ({end})")
    if start < 0 or end > duration + TIME_SLACK:
        raise ValueError(f"mmsent analysis: {where} must lie within [0, media.duration] = [0, {duration}], "
                         f"got [{start}, {end}]")
    kind = s.get("kind", "speech")
    if kind not in kinds:
        raise ValueError(f"mmsent analysis: {where}.kind is {kind!r}, not one of {kinds}")
    modalities = s["modalities"]
    if (not isinstance(modalities, list) or not all(m in MODALITIES for m in modalities)
            or len(set(modalities)) != len(modalities)):
        raise ValueError(f"mmsent analysis: {where}.modalities must be a list of distinct modalities "
                         f"among {MODALITIES}, got {modalities!r}")
    probs = {t: checked_probs(s[t], labels[t], f"mmsent analysis: {where}.{t}") for t in TASKS}
    seg = SegmentResult(
        start=start, end=end, text=checked_text(s["text"], f"{where}.text"), **probs,
        modalities=list(modalities), kind=kind,
        contributions=checked_contributions(s.get("contributions"), modalities, where),
    )
    seg.per_modality = checked_readings(s.get("per_modality"), seg, where)
    seg.face_box = checked_box(s.get("face_box"), where)
    seg.translation = checked_text(s.get("translation", ""), f"{where}.translation")
    seg.speaker = checked_text(s.get("speaker", ""), f"{where}.speaker")
    return seg


def checked_contributions(value, modalities: list[str], where: str) -> dict[str, float]:
    """``contributions``: {} when missing or null, else modality used -> distance in [0, 1]."""
    value = {} if value is None else value
    if (not isinstance(value, dict) or not set(value) <= set(modalities)
            or not all(is_number(c) and 0.0 <= c <= 1.0 + CONTRIBUTION_SLACK for c in value.values())):
        raise ValueError(f"mmsent analysis: {where}.contributions must map the modalities used here "
                         f"({modalities}) to numbers in [0, 1], got {value!r}")
    return dict(value)


def check_finite(value, where: str) -> None:
    """Every number in a free-form value (``model``: objects, lists, numbers, strings) finite: the file is strict
    JSON, which holds no NaN or infinity (the writer would refuse it only after other formats were written)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"mmsent analysis: {where} is {value!r}, not a finite number (JSON has no NaN or infinity)")
    if isinstance(value, dict):
        for key, v in value.items():
            check_finite(v, f"{where}.{key}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_finite(v, f"{where}[{i}]")


def optional_text(value, key: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"mmsent analysis: {key} must be a string or null, got {value!r}")
    return value


def texts(value, key: str) -> list[str]:
    """A list of strings (``notes``, ``languages``); null or absent (a file written before ``languages`` was
    added, which ``Analysis`` reads as its ``language`` alone) means none. A string would show as one per letter."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"mmsent analysis: {key} must be a list of strings (or null), got {value!r}")
    return list(value)
