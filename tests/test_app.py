"""The demo as a program sees it: ``python app.py`` on a free loopback port, called with gradio_client.

One real analysis (espeak-ng speech, the embedded model, faster-whisper) feeds several tests; while it
runs, a second request must wait its turn in the queue. Bad inputs are rejected before any analysis,
each with its own clear message.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import av
import pytest
from app_server import AppServer, make_examples_module
from mediagen import make_video
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from gradio_client.utils import Status

from mmsent.labels import EMOTIONS, MODALITIES, SENTIMENTS

SENTENCES = ("The weather is lovely today.", "My brother bought a green bicycle.")
KEYWORDS = ("weather", "bicycle")  # words the transcript must contain
MAX_SECONDS = 20  # the server's --max-seconds in these tests
MAX_MB = 1  # the server's --max-mb
RESULT_TIMEOUT_S = 180  # s for one analysis on a busy 2-core machine
OUTPUTS = ("video", "emotion", "sentiment", "share", "contributions", "table", "notes", "files", "json")
TIME_TOL_S = 0.1  # s of slack between the segments' span and the decoded duration
PROB_TOL = 1e-4
BUSY = (Status.PROCESSING, Status.PROGRESS)  # a request being worked on


def out(result: tuple, name: str):
    """One output of /analyze by name (the endpoint returns them in OUTPUTS order)."""
    return result[OUTPUTS.index(name)]


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("app_media")
    make_examples_module().make_video(d / "speech.mp4", SENTENCES, title="Test", colour=(30, 90, 60))
    (d / "notes.mp4").write_text("this is a text file, not a video\n")
    (d / "big.mp4").write_bytes(b"\0" * int(MAX_MB * 1e6 + 1000))
    (d / "words.srt").write_text("1\n00:00:00,200 --> 00:00:01,800\nThe parrot sings loudly.\n")
    make_video(d / "silent.mp4", 2.0, size=(160, 120), fps=5, audio=None)
    make_video(d / "long.mp4", MAX_SECONDS + 5.0, size=(160, 120), fps=5)
    return {p.stem: p for p in d.iterdir()}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with AppServer(tmp_path_factory.mktemp("app_log") / "app.log",
                   "--max-seconds", str(MAX_SECONDS), "--max-mb", str(MAX_MB)) as app:
        yield app


@pytest.fixture(scope="module")
def client(server):
    return Client(server.url, analytics_enabled=False, verbose=False)


def analyze_args(video: Path, subtitles: Path | None = None) -> tuple:
    return (handle_file(video), handle_file(subtitles) if subtitles else None, "auto", "faster-whisper", 10.0)


@pytest.fixture(scope="module")
def run(server, client, media) -> dict:
    """Analyse the speech video; meanwhile queue a silent video and watch it wait for its turn."""
    first = client.submit(*analyze_args(media["speech"]), api_name="/analyze")
    deadline = time.monotonic() + RESULT_TIMEOUT_S
    while first.status().code not in BUSY and not first.done() and time.monotonic() < deadline:
        time.sleep(0.05)
    second = client.submit(*analyze_args(media["silent"]), api_name="/analyze")
    seen, descs = set(), set()  # (first's status, second's status) pairs; first's progress texts
    while not (first.done() and second.done()) and time.monotonic() < deadline:
        a, b = first.status(), second.status()
        seen.add((a.code, Status.FINISHED if second.done() else b.code))
        descs |= {p.desc for p in a.progress_data or [] if p.desc}
        time.sleep(0.02)
    with pytest.raises(AppError) as second_error:
        second.result(timeout=RESULT_TIMEOUT_S)
    result = first.result(timeout=RESULT_TIMEOUT_S)
    return {"result": result, "seen": seen, "second_error": str(second_error.value), "progress": descs,
            "log": server.log_tail(100_000)}


def test_response_holds_timeline_of_the_speech(run, media):
    analysis = json.loads(out(run["result"], "json"))
    with av.open(str(media["speech"])) as c:
        duration = c.duration / av.time_base
    segs = analysis["segments"]
    assert segs, "no segments"
    assert abs(segs[0]["start"]) <= TIME_TOL_S and abs(segs[-1]["end"] - duration) <= TIME_TOL_S
    for a, b in zip(segs, segs[1:]):
        assert a["start"] < a["end"] and abs(b["start"] - a["end"]) <= 1e-3, (a, b)  # ordered, no holes
    text = " ".join(s["text"] for s in segs).lower()
    assert all(k in text for k in KEYWORDS), text
    for s in segs:
        assert list(s["emotion"]) == list(EMOTIONS) and list(s["sentiment"]) == list(SENTIMENTS)
        assert abs(sum(s["emotion"].values()) - 1) < PROB_TOL and abs(sum(s["sentiment"].values()) - 1) < PROB_TOL
        assert set(s["modalities"]) <= set(MODALITIES) and set(s["contributions"]) <= set(s["modalities"])
    assert any(s["kind"] == "speech" and "audio" in s["modalities"] for s in segs)


def test_table_plots_and_files_match_the_analysis(run):
    result = run["result"]
    segs = json.loads(out(result, "json"))["segments"]
    table = out(result, "table")
    assert len(table["data"]) == len(segs)
    assert [row[2] for row in table["data"]] == [s["text"] if s["kind"] == "speech" else "(no speech)"
                                                  for s in segs]
    top = [max(s["emotion"], key=s["emotion"].get) for s in segs]
    assert [row[3] for row in table["data"]] == top
    emotion_fig = json.loads(out(result, "emotion")["plot"])
    assert [t["name"] for t in emotion_fig["data"]][: len(EMOTIONS)] == list(EMOTIONS)
    for name in ("sentiment", "share", "contributions"):
        assert out(result, name)["type"] == "plotly" and json.loads(out(result, name)["plot"])["data"]
    files = {Path(f).suffix: Path(f) for f in out(result, "files")}
    assert set(files) == {".json", ".csv", ".srt", ".vtt", ".html"}
    assert json.loads(files[".json"].read_text())["segments"] == segs
    assert len(files[".csv"].read_text().strip().splitlines()) == len(segs) + 1
    notes = out(result, "notes")
    assert re.search(rf"· {len(segs)} segments? over", notes) and "Model branches used" in notes


def test_progress_is_forwarded(run):
    assert any("speech recognition" in d for d in run["progress"]), run["progress"]


def test_queue_makes_the_second_request_wait(run):
    """Concurrency limit 1: while the first analysis runs, the second only waits in the queue."""
    seen, log = run["seen"], run["log"]
    assert any(a in BUSY and b == Status.IN_QUEUE for a, b in seen), seen
    analysed, rejected = log.find("analysed speech.mp4"), log.find("rejected ")
    assert 0 <= analysed < rejected, log[-3000:]  # the server finished the first before it looked at the second
    assert "no sound track" in run["second_error"]


def test_subtitles_replace_speech_recognition(client, media):
    result = client.predict(*analyze_args(media["silent"], media["words"]), api_name="/analyze")
    analysis = json.loads(out(result, "json"))
    assert "parrot sings loudly" in " ".join(s["text"] for s in analysis["segments"]).lower()
    assert "words.srt" in (analysis["transcript_source"] or "")


@pytest.mark.parametrize("name, expected", [
    ("notes", "notes.mp4: cannot be read as audio or video"),
    ("silent", "silent.mp4 has no sound track"),
    ("long", f"long.mp4 lasts 25 s; this demo analyses up to {MAX_SECONDS} s"),
])
def test_bad_input_gives_a_clear_error(client, media, name, expected):
    with pytest.raises(AppError) as err:
        client.predict(*analyze_args(media[name]), api_name="/analyze")
    message = str(err.value)
    assert expected in message
    assert "Traceback" not in message and "/tmp/" not in message  # no stack trace, no server paths


def test_upload_over_the_size_limit_is_refused(client, media):
    with pytest.raises(ValueError, match="exceeds the maximum file size"):
        client.predict(*analyze_args(media["big"]), api_name="/analyze")
