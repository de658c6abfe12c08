"""Face detection, tracking and crops (mmsent.faces) and the face corpora readers (train.face_corpora)."""

import codecs
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from conftest import ROOT
from PIL import Image

from mmsent import faces, media
from mmsent.labels import EMOTIONS
from mmsent.weights import HashMismatch
from train.corpora import CorpusError, read_data_spec
from train.face_corpora import read_ck48, read_fer2013

RAVDESS_CLIP = "clips/ravdess_01-01-01-01-01-01-01.mp4"


@pytest.fixture(scope="module")
def ravdess_frames(shared_data):
    path = shared_data / RAVDESS_CLIP
    return media.load_frames(path, [(0.0, media.probe(path).duration)], n=faces.FRAMES_PER_SEGMENT,
                             short_side=faces.SHORT_SIDE)[0]


def _iou(a, b):
    return faces._iou(np.asarray(a, np.float32), np.asarray(b, np.float32))


def test_a_still_picture_is_told_from_a_live_face(shared_data):
    live = faces.FaceGrid(media.probe(shared_data / RAVDESS_CLIP).duration).read(shared_data / RAVDESS_CLIP)
    crops, _ = live.span_face(0.0, 2.4)  # the actor says her sentence
    assert len(crops) >= 2 and not faces.still(crops)
    portrait = ROOT / "examples" / "mission_day.mp4"  # the photograph beside the slides' words
    grid = faces.FaceGrid(media.probe(portrait).duration).read(portrait)
    crops, _ = grid.span_face(0.5, 2.9)
    assert len(crops) >= 2 and faces.still(crops)
    assert not faces.still(crops[:1])  # one frame can't tell


def test_face_found_in_every_ravdess_frame(ravdess_frames):
    found = faces.detect(ravdess_frames)
    assert len(found) == len(ravdess_frames)
    h, w = ravdess_frames.shape[1:3]
    for boxes in found:
        assert boxes.shape[1] == 5 and len(boxes) >= 1
        x0, y0, x1, y1, score = boxes[0]
        assert score >= faces.MIN_SCORE
        # the actor faces the camera in the middle of a 16:9 frame, his face a third of its height or more
        assert 0.3 * w < (x0 + x1) / 2 < 0.7 * w and 0.1 * h < (y0 + y1) / 2 < 0.7 * h
        assert (y1 - y0) > h / 3


def test_segment_faces_gives_consistent_crops(ravdess_frames):
    crops, box = faces.segment_faces(ravdess_frames)
    assert crops.dtype == np.uint8 and crops.shape == (len(ravdess_frames), 48, 48)
    found = faces.detect(ravdess_frames)
    picks = faces.track(found, ravdess_frames.shape[1:3])
    assert all(j is not None for j in picks)
    main = [boxes[j] for boxes, j in zip(found, picks)]
    # one face, followed: consecutive boxes overlap well and the median box overlaps each of them
    assert min(_iou(a, b) for a, b in zip(main, main[1:])) > 0.6
    assert min(_iou(box, b) for b in main) > 0.6
    # crops of the same face in the same light look alike; a face crop has contrast (not padding)
    assert np.abs(crops.astype(float) - crops.mean(0)).mean() < 20
    assert crops.std(axis=(1, 2)).min() > 20


def test_the_grid_gives_a_span_the_face_its_own_frames_give(shared_data, ravdess_frames):
    """A served video's faces are read on a grid of times before the segments are known; a span's face
    from the grid is the one its own sampled frames give (the nearest grid frames are at most half a
    step from them); spans past the end take the last frames; a set ``stop`` ends the reading."""
    path = shared_data / RAVDESS_CLIP
    duration = media.probe(path).duration
    grid = faces.FaceGrid(duration).read(path)
    assert len(grid.found) == int(np.ceil(duration / faces.GRID_STEP)) and grid.frame_size == ravdess_frames.shape[1:3]
    crops, box = grid.span_face(0.0, duration)
    own_crops, own_box = faces.segment_faces(ravdess_frames)
    h, w = grid.frame_size
    assert len(crops) == len(own_crops) == faces.FRAMES_PER_SEGMENT
    assert _iou(box, np.asarray(own_box[:4]) / [w, h, w, h]) > 0.9
    assert np.abs(crops.mean(0).astype(float) - own_crops.mean(0)).mean() < 5  # grey levels of 255
    short, _ = grid.span_face(1.0, 1.3)  # shorter than a step: its one or two grid frames, each once
    assert 1 <= len(short) <= 2
    late, late_box = grid.span_face(duration + 5, duration + 6)
    assert len(late) == 1 and _iou(late_box, grid.span_face(duration - 0.1, duration)[1]) > 0.99
    stop = threading.Event()
    stop.set()
    assert faces.FaceGrid(duration).read(path, stop) is None


def test_once_the_segments_are_known_the_grid_searches_only_their_cells(shared_data, monkeypatch):
    """Cells no segment reads (a long silence read in long windows needs fewer) are decoded past, not
    searched for faces; the spans' faces are the ones a full grid gives."""
    path = shared_data / RAVDESS_CLIP
    duration = media.probe(path).duration
    spans = [(0.0, 0.5), (1.2, 1.4)]
    full = faces.FaceGrid(duration).read(path)
    searched, frame_faces = [], faces.frame_faces
    monkeypatch.setattr(faces, "frame_faces", lambda frames: searched.append(1) or frame_faces(frames))
    grid = faces.FaceGrid(duration)
    grid.need(spans)
    grid.read(path)
    assert len(searched) == len(grid.needed) == 3 < len(grid.found)
    assert [k for k, f in enumerate(grid.found) if f is not None] == sorted(grid.needed) == [0, 1, 3]
    for span in spans:
        (crops, box), (full_crops, full_box) = grid.span_face(*span), full.span_face(*span)
        assert np.array_equal(crops, full_crops) and box == full_box


def test_a_face_turned_away_is_left_out(shared_data):
    """In the two-person *Friends* shot the speaker faces the camera, small, on the right, and the man he
    talks to is seen from behind, larger, on the left. The detector finds the back of his head in most
    frames; as the larger face it became the main face of the line, read as if it were the speaker's."""
    path = shared_data / "clips" / "meld_train_dia0_utt0.mp4"
    grid = faces.FaceGrid(media.probe(path).duration).read(path)
    w = grid.frame_size[1]
    assert all((boxes[:, 0] + boxes[:, 2]).min() / 2 > w / 2 for boxes, _ in grid.found if len(boxes))
    assert sum(len(boxes) > 0 for boxes, _ in grid.found) >= len(grid.found) - 1  # the speaker is found
    crops, box = grid.span_face(0.0, media.probe(path).duration)
    assert len(crops) >= faces.FRAMES_PER_SEGMENT - 1 and box[0] > 0.6


def test_turned_away_tells_a_profile_from_a_face_turned_a_little():
    eyes, nose = [[40, 50], [60, 50]], [[50, 60], [56, 60], [61, 60], [75, 60], [28, 60]]
    points = np.array([[*eyes, n, [50, 70], [30, 50], [70, 50]] for n in nose], np.float32)
    assert faces.turned_away(points).tolist() == [False, False, False, True, True]
    tilted = np.array([[[40, 40], [54, 54], [40, 54], [42, 62], [30, 40], [60, 60]]], np.float32)
    assert not faces.turned_away(tilted)[0]  # tilted by 45 degrees, facing the camera: the nose below the eyes


def test_a_small_picture_is_not_enlarged_so_a_tiny_face_is_no_face(shared_data, tmp_path):
    """MIN_FACE counts the source's pixels: the RAVDESS clip at 160x90 (its face about 23 px) is read, at
    64x36 (about 9 px, nothing an expression model can read) no face is found, where enlarged to 360
    px the detector would still find one."""
    from mediagen import ffmpeg

    path = shared_data / RAVDESS_CLIP
    duration = media.probe(path).duration
    for width, found in ((160, True), (64, False)):
        small = tmp_path / f"w{width}.mp4"
        ffmpeg("-i", path, "-vf", f"scale={width}:-2", "-an", small)
        grid = faces.FaceGrid(duration).read(small)
        assert min(grid.frame_size) < faces.SHORT_SIDE  # not enlarged
        assert (len(grid.span_face(0.0, duration)[0]) > 0) == found, width
    frames = media.load_frames(small, [(0.0, duration)], n=2, short_side=faces.SHORT_SIDE)[0]  # enlarged
    assert any(len(b) for b in faces.detect(frames))


def test_no_face_in_test_pattern(tmp_path):
    from mediagen import make_video

    path = make_video(tmp_path / "pattern.mp4", duration=2.0, size=(640, 360), audio=None)
    frames = media.load_frames(path, [(0.0, 2.0)], n=faces.FRAMES_PER_SEGMENT, short_side=faces.SHORT_SIDE)[0]
    crops, box = faces.segment_faces(frames)
    assert crops.shape == (0, 48, 48) and box is None
    assert all(len(b) == 0 for b in faces.detect(frames))


def test_no_frames_no_face():
    crops, box = faces.segment_faces(np.zeros((0, 360, 640, 3), np.uint8))
    assert crops.shape == (0, 48, 48) and box is None
    assert faces.detect(np.zeros((0, 36, 64, 3), np.uint8)) == []
    with pytest.raises(ValueError, match="uint8 RGB"):
        faces.detect(np.zeros((2, 36, 64), np.uint8))


@pytest.mark.parametrize("height, width", [(4, 2000), (2000, 4)])
def test_a_picture_thinner_than_a_pixel_of_the_detector_s_input_has_no_face(height, width):
    """A 2000x4 banner video scaled into the detector's 192 px square is 0.4 px high: its analysis failed with
    PIL's "height and width must be > 0", where its sound could be read. It is one pixel high there: no face."""
    assert [len(b) for b in faces.detect(np.zeros((2, height, width, 3), np.uint8))] == [0, 0]


def _box(x0, y0, side, score=0.9):
    return np.array([x0, y0, x0 + side, y0 + side, score], np.float32)


def test_track_follows_the_main_face_not_a_passer_by():
    size = (360, 640)
    main = [_box(280 + 3 * t, 100, 120) for t in range(8)]  # large, central, moving slowly, every frame
    side = [_box(20, 20, 60, 0.99) if t in (2, 3) else None for t in range(8)]  # small, in a corner, 2 frames
    frames = [np.stack([b for b in (m, s) if b is not None]) for m, s in zip(main, side)]
    frames[5] = np.zeros((0, 5), np.float32)  # missed once
    out = faces.track(frames, size)
    assert out[5] is None
    for t in (0, 1, 2, 3, 4, 6, 7):
        np.testing.assert_array_equal(frames[t][out[t]], main[t])
    assert faces.track([np.zeros((0, 5), np.float32)] * 3, size) == [None, None, None]


def test_track_prefers_the_face_seen_longer():
    size = (360, 640)
    steady = [_box(100, 100, 100) for _ in range(6)]  # off-centre but in all six frames
    brief = [_box(270, 110, 110) if t == 0 else None for t in range(6)]  # central, one frame only
    frames = [np.stack([b for b in (s, o) if b is not None]) for s, o in zip(steady, brief)]
    out = faces.track(frames, size)
    assert all(j is not None and boxes[j][0] == 100 for boxes, j in zip(frames, out))


def test_crops_frame_the_box_like_fer():
    frame = np.zeros((200, 300, 3), np.uint8)
    frame[50:150, 100:200] = 255  # a white square "face"
    box = np.array([100, 50, 200, 150, 1.0], np.float32)
    crop = faces.crops(frame[None], [box], size=48)
    assert crop.shape == (1, 48, 48) and crop.dtype == np.uint8
    # the square fills 1/CROP_SCALE of the crop: white in the middle, dark margins of the expected width
    margin = (1 - 1 / faces.CROP_SCALE) / 2 * 48
    assert crop[0, 24, 24] == 255 and crop[0, 24, 0] == 0 and crop[0, 24, 47] == 0
    white = np.flatnonzero(crop[0, 24] > 127)
    assert abs(white[0] - margin) <= 1.5 and abs(47 - white[-1] - margin) <= 1.5
    # a box past the frame's edge repeats the edge pixels; frames without a box give no crop
    edge = faces.crops(np.stack([frame, frame]), [None, np.array([250, 150, 330, 230, 1], np.float32)])
    assert edge.shape == (1, 48, 48)
    assert faces.crops(frame[None], [None]).shape == (0, 48, 48)


def test_a_face_seen_in_one_frame_of_eight_is_no_face(monkeypatch):
    """One stray detection (a test pattern once scored 0.64) does not make a face; two frames do."""
    frames = np.zeros((8, 360, 640, 3), np.uint8)
    box = np.array([[200, 100, 300, 200, 0.64]], np.float32)
    for seen in (1, 2):
        monkeypatch.setattr(faces, "detect", lambda f, seen=seen: [box if i < seen else np.zeros((0, 5), np.float32)
                                                                   for i in range(len(f))])
        crops, main = faces.segment_faces(frames)
        assert (len(crops), main is None) == ((0, True) if seen == 1 else (2, False))


def test_detector_weights_are_hash_checked(monkeypatch):
    faces.load_detector.cache_clear()
    monkeypatch.setattr(faces, "DETECTOR_SHA256", "0" * 64)
    try:
        with pytest.raises(HashMismatch, match="face detector"):
            faces.load_detector()
    finally:
        faces.load_detector.cache_clear()


def test_loading_the_detector_drops_litert_s_info_line_and_keeps_the_rest(capfd):
    """LiteRT's C++ logger writes "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." to stderr as
    the detector loads, and no setting silences it (TF_CPP_MIN_LOG_LEVEL 1-3 tried): that line goes,
    whatever else is written to stderr meanwhile stays."""
    proc = subprocess.run([sys.executable, "-c", "from mmsent.faces import load_detector; load_detector()"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0 and "XNNPACK" not in proc.stderr, proc.stderr
    with faces._without_native_lines(faces.XNNPACK_LINE):
        os.write(2, faces.XNNPACK_LINE + b" for CPU.\nERROR: a native message\n")
        print("a Python message", file=sys.stderr, flush=True)
    err = capfd.readouterr().err
    assert "ERROR: a native message" in err and "a Python message" in err and "XNNPACK" not in err


THREADS_LOADING = """
import os, threading
from mmsent.faces import load_detector
start, loaded = threading.Barrier(4), []
def load():
    start.wait()
    loaded.append(load_detector()[0])
threads = [threading.Thread(target=load) for _ in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
os.write(2, b"stderr after the loads\\n")
print(len({id(interpreter) for interpreter in loaded}))
"""


def test_threads_loading_the_detector_at_once_get_one_and_leave_stderr_alone():
    """The first analyses of an app running several at once load the detector together: one interpreter for all,
    and each load swapping stderr for its own while another did left it in a deleted file for good."""
    proc = subprocess.run([sys.executable, "-c", THREADS_LOADING], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1"] and "stderr after the loads" in proc.stderr, (proc.stdout, proc.stderr)


# --- face corpora ---------------------------------------------------------------------------------

def test_read_fer2013_real_splits(shared_data):
    train = read_fer2013(shared_data / "fer2013" / "train")
    assert len(train) == 28709
    counts = {e: sum(s.emotion == i for s in train) for i, e in enumerate(EMOTIONS)}
    assert counts == {"anger": 3995, "disgust": 436, "fear": 4097, "joy": 7215, "neutral": 4965,
                      "sadness": 4830, "surprise": 3171}
    val = read_fer2013(shared_data / "fer2013", "validation")
    assert len(val) == 3589 and len({s.id for s in val}) == 3589
    s = next(s for s in val if s.media.parent.name == "happy")
    assert s.id == f"fer2013/validation/{s.media.stem}" and s.id.startswith("fer2013/validation/PublicTest_")
    assert (s.corpus, s.text, s.sentiment, s.has_video, s.group) == ("fer2013", None, None, True, s.media.stem)
    assert EMOTIONS[s.emotion] == "joy" and s.media.is_file()
    name, spec = read_data_spec(f"fer2013={shared_data / 'fer2013'}:validation")  # the corpus folder and a split
    assert name == "fer2013" and [x.id for x in spec] == [x.id for x in val]


def _fer_csv(path, rows, columns=("emotion", "pixels", "Usage")):
    """A file in the challenge's own format; rows: (emotion 0-6, (48, 48) uint8, Usage)."""
    lines = [",".join(columns)]
    for emotion, image, usage in rows:
        values = {"emotion": str(emotion), "pixels": " ".join(map(str, image.ravel())), "Usage": usage}
        lines.append(",".join(values[c.strip()] for c in columns))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_read_fer2013_challenge_csv(tmp_path, monkeypatch):
    """fer2013.csv (the challenge's file; here generated): its faces and labels, by split, written once."""
    monkeypatch.setenv("MMSENT_CACHE", str(tmp_path / "cache"))
    gen = np.random.default_rng(0)
    rows = [(e, gen.integers(0, 256, (48, 48), dtype=np.uint8), "Training") for e in range(7)]
    rows += [(3, gen.integers(0, 256, (48, 48), dtype=np.uint8), "PublicTest"),
             (4, gen.integers(0, 256, (48, 48), dtype=np.uint8), "PrivateTest")]
    path = _fer_csv(tmp_path / "fer2013.csv", rows)

    train = read_fer2013(path, "train")
    assert [EMOTIONS[s.emotion] for s in sorted(train, key=lambda s: int(s.id.rsplit("_", 1)[1]))] == \
        ["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"]  # the challenge's 0-6
    (test,) = read_fer2013(path, "PrivateTest")
    assert test.id == "fer2013/PrivateTest/PrivateTest_8" and EMOTIONS[test.emotion] == "sadness"
    with Image.open(test.media) as im:
        assert np.array_equal(np.asarray(im), rows[8][1])  # every grey value kept
    written = test.media.stat().st_mtime_ns
    name, (same,) = read_data_spec(f"fer2013={path}:test")
    assert name == "fer2013" and same.id == "fer2013/test/PrivateTest_8" and same.media == test.media
    assert same.media.stat().st_mtime_ns == written  # written once
    assert [s.id for s in read_fer2013(path, "validation")] == ["fer2013/validation/PublicTest_7"]

    kaggle = _fer_csv(tmp_path / "icml_face_data.csv", rows, ("emotion", " Usage", " pixels"))
    (other,) = read_fer2013(kaggle, "PrivateTest")
    with Image.open(other.media) as im:
        assert EMOTIONS[other.emotion] == "sadness" and np.array_equal(np.asarray(im), rows[8][1])
    saved = tmp_path / "saved by Excel.csv"  # a byte order mark first: its columns were "\ufeffemotion", ...
    saved.write_bytes(codecs.BOM_UTF8 + path.read_bytes())
    (other,) = read_fer2013(saved, "PrivateTest")
    with Image.open(other.media) as im:
        assert EMOTIONS[other.emotion] == "sadness" and np.array_equal(np.asarray(im), rows[8][1])

    with pytest.raises(CorpusError, match="name one of its splits"):
        read_fer2013(path)
    with pytest.raises(CorpusError, match=r"train.csv: no face of its Usage PrivateTest \(it has Training\)$"):
        read_fer2013(_fer_csv(tmp_path / "train.csv", rows[:7]), "test")
    with pytest.raises(CorpusError, match="data row 1 is not a FER2013 face"):
        read_fer2013(_fer_csv(tmp_path / "short.csv", [rows[0], (1, rows[1][1][:47], "Training")]), "train")
    with pytest.raises(CorpusError, match="data row 0 is not a FER2013 face"):
        read_fer2013(_fer_csv(tmp_path / "label.csv", [(7, rows[0][1], "Training")]), "train")
    with pytest.raises(CorpusError, match="not the FER2013 file"):
        read_fer2013(_fer_csv(tmp_path / "cols.csv", [], ("label", "pixels", "Usage")), "train")
    assert not list((tmp_path / "cache" / "fer2013-csv").glob("*.tmp-*"))  # nothing half-written is left


def test_read_ck48_generated(tmp_path):
    names = {"anger": 2, "contempt": 2, "disgust": 1, "fear": 1, "happy": 2, "sadness": 1, "surprise": 1}
    for name, n in names.items():
        (tmp_path / name).mkdir()
        for i in range(n):
            Image.fromarray(np.full((48, 48), 10 * i, np.uint8)).save(tmp_path / name / f"S0{i}5_001_0000001{i}.png")
    (tmp_path / "happy" / "._S015_001_00000011.png").write_bytes(b"\x00\x05\x16\x07")  # macOS's AppleDouble file
    (tmp_path / ".ipynb_checkpoints").mkdir()  # a notebook's: no class
    samples = read_ck48(tmp_path)
    assert len(samples) == sum(names.values()) - names["contempt"]  # contempt has no counterpart; hidden files none
    by_emotion = {EMOTIONS[s.emotion] for s in samples}
    assert by_emotion == {"anger", "disgust", "fear", "joy", "sadness", "surprise"}
    s = samples[0]
    assert s.id == f"ck48/all/{s.media.stem}" and s.corpus == "ck48" and s.has_video and s.group == s.media.stem


def test_face_corpora_wrong_folders(tmp_path, shared_data):
    with pytest.raises(CorpusError, match="not found"):
        read_fer2013(tmp_path / "missing")
    with pytest.raises(CorpusError, match="split folder 'test'"):
        read_fer2013(shared_data / "fer2013", "test")
    with pytest.raises(CorpusError, match="not a fer2013 split folder"):
        read_fer2013(shared_data / "fer2013")  # the corpus folder itself: train/ and validation/ are no classes
    (tmp_path / "happy").mkdir()
    with pytest.raises(CorpusError, match="no images"):
        read_ck48(tmp_path)
