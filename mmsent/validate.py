"""Checks of an analysis read back from JSON (``Analysis.from_dict``): each names the key that is
wrong and what it should be, so a hand-edited or truncated file is refused with a clear message."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mmsent.labels import MODALITIES, TASKS

if TYPE_CHECKING:
    from mmsent.results import SegmentResult

SUM_TOLERANCE = 0.01  # a reading's probabilities must sum to 1 within this (rounded files)


def check_version(version, current: int, readable: tuple[int, ...]) -> None:
    if version is None:
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
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def require(d, keys, where: str) -> None:
    if not isinstance(d, dict):
        raise ValueError(f"mmsent analysis: {where} must be an object, got {type(d).__name__}")
    missing = [k for k in keys if k not in d]
    if missing:
        raise ValueError(f"mmsent analysis: {where} lacks the key(s) {', '.join(missing)}")
