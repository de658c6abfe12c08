"""The demo as a program sees it: ``python app.py`` on a free loopback port, called with gradio_client.

One real analysis (espeak-ng speech, the embedded model, faster-whisper, called with the video alone:
the other inputs take their defaults) feeds several tests; while it runs, a second request must wait
its turn in the queue. Bad inputs are rejected before any analysis, each with its own clear message.
The app also starts and analyses with an ``ffmpeg`` on PATH but no ``ffprobe``, and probes each
upload once.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import av
import gradio as gr
import imageio_ffmpeg
import pytest
import torch
from app_server import ROOT, AppServer, free_port, load_app, make_examples_module
from mediagen import dubbed_video, ffmpeg, make_video
from test_results import make_analysis
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from gradio_client.utils import Status

import mmsent
from mmsent import media as mmsent_media
from mmsent import plots
from mmsent.checkpoint import save_checkpoint
from mmsent.config import tiny_config
from mmsent.labels import EMOTIONS, MODALITIES, SENTIMENTS
from mmsent.model import build_model
from mmsent.results import Analysis

SENTENCES = ("The weather is lovely today.", "My brother bought a green bicycle.")
KEYWORDS = ("weather", "bicycle")  # words the transcript must contain
MAX_SECONDS = 20  # the server's --max-seconds in these tests
MAX_MB = 1  # the server's --max-mb
RESULT_TIMEOUT_S = 180  # s for one analysis on a busy 2-core machine
PARAMETERS = ("video", "subtitles", "language", "asr", "max_segment_seconds", "senses",
              "translate", "sound", "annotated_video", "audio_track")  # /analyze's, in order
OUTPUTS = ("video", "emotion", "senses", "sentiment", "share", "contributions", "table", "notes", "files", "json")
TIME_TOL_S = 0.1  # s of slack between the segments' span and the decoded duration
PROB_TOL = 1e-4
BUSY = (Status.PROCESSING, Status.PROGRESS)  # a request being worked on


def out(result: tuple, name: str):
    """One output of /analyze by name (the endpoint returns them in OUTPUTS order)."""
    return result[OUTPUTS.index(name)]


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("app_media")
    make_examples_module().make_video(d / "speech.mp4", SENTENCES, title="Test", colour=(30, 90, 60),
                                      pause_s=2.0)  # a silence of 1 s or more is a gap, nothing read there
    ffmpeg("-i", d / "speech.mp4", "-vn", d / "speech_sound.wav")  # its sound alone
    (d / "notes.mp4").write_text("this is a text file, not a video\n")
    (d / "big.mp4").write_bytes(b"\0" * int(MAX_MB * load_app().MB + 1000))  # just over the limit, in the app's MB
    (d / "words.srt").write_text("1\n00:00:00,200 --> 00:00:01,800\nThe parrot sings loudly.\n")
    make_video(d / "silent.mp4", 2.0, size=(160, 120), fps=5, audio=None)
    make_video(d / "long.mp4", MAX_SECONDS + 5.0, size=(160, 120), fps=5)
    shutil.copy(d / "long.mp4", d / 'my "long" talk.mp4')  # a browser sends its quotes as %22
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
    first = client.submit(handle_file(media["speech"]), api_name="/analyze")  # the other inputs: defaults
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
    top = [max(s["emotion"], key=s["emotion"].get) if s["modalities"] else "" for s in segs]
    assert [row[3] for row in table["data"]] == top  # a segment where nothing was read has no answer
    assert any(not s["modalities"] for s in segs) and any(s["modalities"] for s in segs)
    names = {"text": "words", "audio": "voice", "video": "face"}
    for row, s in zip(table["data"], segs):  # what each used sense says on its own, and nothing for the others
        for m in s["modalities"]:
            own = s["per_modality"][m]["emotion"]
            assert abs(sum(own.values()) - 1) < PROB_TOL
            label = max(own, key=own.get)
            assert f"{names[m]}: {label} {own[label]:.2f}" in row[7], (row[7], s)
        assert all(names[m] not in row[7] for m in names if m not in s["modalities"])
        assert row[8] == ", ".join(f"{names[m]} {v:.2f}" for m, v in s["contributions"].items())
    senses_fig = json.loads(out(result, "senses")["plot"])
    used = {m for s in segs for m in s["modalities"]}
    assert {t["name"] for t in senses_fig["data"]} >= {names[m] for m in used}, senses_fig["data"]
    emotion_fig = json.loads(out(result, "emotion")["plot"])
    assert [t["name"] for t in emotion_fig["data"]][: len(EMOTIONS)] == list(EMOTIONS)
    for name in ("sentiment", "share", "contributions"):
        assert out(result, name)["type"] == "plotly" and json.loads(out(result, name)["plot"])["data"]
    files = {Path(f).suffix: Path(f) for f in out(result, "files")}
    assert set(files) == {".json", ".csv", ".srt", ".vtt", ".html"}
    assert json.loads(files[".json"].read_text())["segments"] == segs
    assert len(files[".csv"].read_text(encoding="utf-8-sig").strip().splitlines()) == len(segs) + 1
    notes = out(result, "notes")
    assert re.search(rf"· {len(segs)} segments? over", notes) and "Senses the model reads" in notes
    summary = mmsent.Analysis.from_json(files[".json"]).summary()  # the overall answer says how sure it is on average
    top = summary.dominant_emotion
    assert f"{summary.overall} ({summary.emotion_share[top]:.0%} of the time read, its mean probability " \
           f"{summary.emotion_mean[top]:.2f})" in notes, notes


def test_progress_is_forwarded(run):
    assert any("speech recognition" in d for d in run["progress"]), run["progress"]


def test_queue_makes_the_second_request_wait(run):
    """Concurrency limit 1: while the first analysis runs, the second only waits in the queue."""
    seen, log = run["seen"], run["log"]
    assert any(a in BUSY and b == Status.IN_QUEUE for a, b in seen), seen
    analysed, rejected = log.find("analysed speech.mp4"), log.find("rejected ")
    assert 0 <= analysed < rejected, log[-3000:]  # the server finished the first before it looked at the second
    assert "no sound track" in run["second_error"]


def test_analyze_is_the_one_endpoint_and_every_input_has_a_default(client):
    """The video or the sound is needed (the sound, added last, keeps the older inputs' places)."""
    api = client.view_api(print_info=False, return_format="dict")
    assert list(api["named_endpoints"]) == ["/analyze"] and not api["unnamed_endpoints"]
    params = api["named_endpoints"]["/analyze"]["parameters"]
    assert [p["parameter_name"] for p in params] == list(PARAMETERS)
    assert all(p["parameter_has_default"] for p in params)
    assert [p["parameter_default"] for p in params] == [None, None, "auto", "faster-whisper", 10.0,
                                                        ["words", "voice", "face"], True, None, False, ""]
    with pytest.raises(AppError, match="No video yet: upload a file or record one with the webcam"):
        client.predict(api_name="/analyze")


def test_a_click_during_an_analysis_runs_after_it(server):
    """Gradio drops a click on a running event by default: a second Analyse, or a second example, during an
    analysis left the last video's results beside the new video, without a word. Every event that analyses
    keeps the last click and runs it next (a real browser: /tmp trial, two examples 0.5 s apart)."""
    config = json.loads(urllib.request.urlopen(f"{server.url.rstrip('/')}/config", timeout=30).read())
    modes = [(d["api_name"], d["trigger_mode"]) for d in config["dependencies"]]
    at = [name for name, _ in modes].index("analyze")
    assert modes[at - 1][1] == modes[at][1] == dict(modes)["analyze_example"] == "always_last", modes  # the
    # Analyse button's click (it clears the last results), its analysis, and an example's analysis


def test_no_file_given_or_shown_has_a_share_button(server):
    """The sound's, the video's and the result's Share buttons (Gradio's default) would post the file to the Hugging
    Face Hub's discussions from a Space; elsewhere, a click said "Must be on Spaces to share"."""
    config = json.loads(urllib.request.urlopen(f"{server.url.rstrip('/')}/config", timeout=30).read())
    media = {c["props"].get("elem_id"): c["props"].get("buttons") for c in config["components"]
             if c["type"] in ("video", "audio")}
    assert media == {"video-in": ["download"], "sound-in": ["download"], "video-out": ["download"]}, media


def test_a_cancelled_job_stops_its_analysis(server, client, media):
    """An API client that cancels its job: the server stops the analysis at its next step. Gradio frees the job's
    place in the queue at once, so the analysis went on beside the next one, two at once on a CPU machine."""
    job = client.submit(handle_file(media["speech"]), api_name="/analyze")
    deadline = time.monotonic() + RESULT_TIMEOUT_S
    while not any("speech recognition" in (p.desc or "") for p in job.status().progress_data or []):
        assert not job.done() and time.monotonic() < deadline, job.status()
        time.sleep(0.02)
    before = len(server.log_tail(10**9))
    job.cancel()
    log = server.wait_for_log(r"(stopped|analysed) \S*speech\.mp4", before, RESULT_TIMEOUT_S)
    assert re.search(r"stopped \S*speech\.mp4 at .*, its page closed or its job cancelled", log), log


def test_a_sound_alone_is_analysed(client, media):
    """A sound file, as the page's microphone or sound upload gives it: its words and voice are read,
    and there is no video to show."""
    result = client.predict(sound=handle_file(media["speech_sound"]), api_name="/analyze")
    analysis = json.loads(out(result, "json"))
    assert out(result, "video") is None and analysis["media"]["has_video"] is False
    assert analysis["media"]["path"] == "speech_sound.wav"
    said = " ".join(s["text"] for s in analysis["segments"]).lower()  # "The weather" is "But whatever" on some CPUs
    assert "lovely today" in said and "bicycle" in said, said
    assert {m for s in analysis["segments"] for m in s["modalities"]} == {"text", "audio"}
    with pytest.raises(AppError, match=r"Both a video \(speech.mp4\) and a sound \(speech_sound.wav\) were given"):
        client.predict(video=handle_file(media["speech"]), sound=handle_file(media["speech_sound"]),
                       api_name="/analyze")


def test_subtitles_replace_speech_recognition(client, media):
    """Every argument by name."""
    result = client.predict(video=handle_file(media["silent"]), subtitles=handle_file(media["words"]),
                            language="en", asr="faster-whisper", max_segment_seconds=8.0, senses=["words"],
                            api_name="/analyze")
    analysis = json.loads(out(result, "json"))
    assert "parrot sings loudly" in " ".join(s["text"] for s in analysis["segments"]).lower()
    assert "words.srt" in (analysis["transcript_source"] or "")
    assert {m for s in analysis["segments"] for m in s["modalities"]} == {"text"}
    assert "Left out, as asked: the voice and the face." in analysis["notes"]
    assert analysis["model"]["used_branches"] == ["text"]  # the senses read
    # the user's file and the model by name, not where the server keeps them
    assert analysis["media"]["path"] == Path(media["silent"]).name and analysis["model"]["checkpoint"] == "default"
    video = result[0]  # as the README says: the video's path and its emotion captions
    assert video["value"].endswith(".mp4") and video["subtitles"].endswith(".vtt"), video


def test_the_annotated_video_is_shown_and_downloaded(client, media):
    """"Draw on the video": its copy with the captions drawn in is the video shown (no caption track beside
    it) and one of the downloads."""
    result = client.predict(video=handle_file(media["speech"]), senses=["words"], annotated_video=True,
                            api_name="/analyze")
    files = {Path(f).name: Path(f) for f in out(result, "files")}
    assert "speech.annotated.mp4" in files, files
    shown = out(result, "video")
    assert shown["value"].endswith("speech.annotated.mp4") and not shown.get("subtitles"), shown
    with av.open(str(media["speech"])) as source, av.open(str(files["speech.annotated.mp4"])) as drawn:
        assert abs(drawn.duration - source.duration) / av.time_base < 0.1
        assert drawn.streams.video[0].frames == pytest.approx(source.streams.video[0].frames, abs=1)


def test_the_downloads_are_named_after_the_file_as_its_user_named_it(client, media, tmp_path):
    """'my "quoted" talk ... .mp4' (a browser, and gradio_client, send its quotes as %22; Gradio keeps 200 bytes of a
    name): the downloads were named 'my %22quoted%22 talk ...', and the drawn video's name, cut by Gradio to 200 bytes,
    lost its ".annotated" and read as the upload's own. Each download is the name without its quotes (Gradio takes
    them out of a file's name), one stem for all, each suffix whole."""
    name = f'my "quoted" talk {"x" * 180}.mp4'
    shutil.copy(media["silent"], tmp_path / name)
    result = client.predict(video=handle_file(tmp_path / name), subtitles=handle_file(media["words"]),
                            senses=["words"], annotated_video=True, api_name="/analyze")
    names = [Path(f).name for f in out(result, "files")]
    stems = {n.removesuffix(".annotated.mp4").rsplit(".", 1)[0] for n in names}
    assert len(stems) == 1 and stems.pop().startswith("my quoted talk xxx"), names
    assert sorted(n.split(".", 1)[1] for n in names) == ["annotated.mp4", "csv", "html", "json", "srt", "vtt"], names
    assert out(result, "video")["value"].endswith(".annotated.mp4")
    assert json.loads(out(result, "json"))["media"]["path"].startswith('my "quoted" talk xxx')


def test_the_audio_track_typed_is_the_one_analysed(client, tmp_path):
    """A dubbed film (track 1 a tone tagged ger, the default; track 2 English speech, tagged eng): the app read the
    track a player plays, and its note told to choose another with --audio-track, which the app did not have. Empty,
    the tone is read (no speech) and the note names where to choose; a number or a language reads the speech; a
    track the file lacks, or a value that names none, is refused in the page's words, naming the tracks it has."""
    dubbed = handle_file(dubbed_video(tmp_path / "dubbed.mkv", ["I am so happy to see you again."]).path)
    plain = json.loads(out(client.predict(video=dubbed, senses=["words", "voice"], api_name="/analyze"), "json"))
    assert not " ".join(s["text"] for s in plain["segments"]).strip() and plain["media"]["audio_track"] is None
    assert ("The file has 2 audio tracks: track 1 (ger) was analysed, the one a player plays first. To analyse "
            "another, choose it by its number or language (audio_track; --audio-track on the command line, the "
            "page's Audio track).") in plain["notes"], plain["notes"]
    result = client.predict(video=dubbed, senses=["words", "voice"], audio_track=" 2 ", api_name="/analyze")
    chosen = json.loads(out(result, "json"))
    assert "happy" in " ".join(s["text"] for s in chosen["segments"]).lower() and chosen["media"]["audio_track"] == 2
    assert "The file has 2 audio tracks: track 2 (eng) was analysed, as chosen (2)." in chosen["notes"]
    with pytest.raises(AppError, match=re.escape(
            "dubbed.mkv: has 2 audio tracks: track 1 (ger, default), track 2 (eng); the audio track asked for, 'fr', "
            "is none of them: choose one by its number (1 to 2) or by the language it is tagged with (audio_track; "
            "--audio-track on the command line, the page's Audio track).")):
        client.predict(video=dubbed, audio_track="fr", api_name="/analyze")
    with pytest.raises(AppError, match=re.escape("the audio track (audio_track; --audio-track on the command line, "
                                                 "the page's Audio track) must be a track's number from 1")):
        client.predict(video=dubbed, audio_track="the English one", api_name="/analyze")


def test_no_sense_ticked_is_refused(client, media):
    with pytest.raises(AppError, match="No sense is ticked"):
        client.predict(*analyze_args(media["speech"]), [], api_name="/analyze")


def test_a_call_with_too_few_inputs_gets_a_readable_error(server):
    """Over plain HTTP (the API page's curl tab) nothing fills the defaults: the caller reads why it failed."""
    request = urllib.request.Request(server.url + "gradio_api/call/analyze", data=json.dumps({"data": []}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        event_id = json.load(r)["event_id"]
    with urllib.request.urlopen(f"{server.url}gradio_api/call/analyze/{event_id}", timeout=RESULT_TIMEOUT_S) as r:
        stream = r.read().decode()
    assert "event: error" in stream and "didn't receive enough input values (needed: 10, got: 0)" in stream, stream


def test_the_segment_table_lays_each_cell_out_in_its_words_direction(server):
    """Gradio's table laid Arabic and Hebrew out left to right (a "!" on the wrong side, the words aligned left):
    the page's style gives each cell the direction of its own words (seen in a browser: right-aligned, "!" first)."""
    with urllib.request.urlopen(server.url + "config", timeout=30) as r:
        assert load_app().CSS in json.load(r)["css"]
    # a translation is an isolate in the cell, laid out in its own direction: after Arabic words, Chromium showed
    # "(in English: Nice!)" as "(!in English: Nice)" without it (seen in a screenshot)
    analysis = make_analysis(1)
    analysis.segments[0].text, analysis.segments[0].translation = "الطقس جميل!", "Nice weather!"
    assert list(load_app().segment_table(analysis)["text"]) == ["الطقس جميل! \u2068(in English: Nice weather!)\u2069"]
    # the speaker the subtitles name comes first, in its own direction too (a Latin name before Arabic words)
    analysis.segments[0].speaker = "Layla"
    assert list(load_app().segment_table(analysis)["text"]) == [
        "\u2068Layla\u2069: الطقس جميل! \u2068(in English: Nice weather!)\u2069"]
    assert "By speaker" not in load_app().analysis_note(make_analysis(3), "")  # and what each one's segments say
    assert (f"**By speaker:**\n\n- \u2068Layla\u2069: {analysis.speaker_summary('Layla')}\n\n"
            in load_app().analysis_note(analysis, ""))


def test_the_buttons_words_read_on_their_colour(server):
    """Analyse wrote white on Gradio's orange at 2.8:1 and Stop white on its red at 3.8:1, under the 4.5:1 WCAG AA
    asks of words (axe-core saw it in a browser): the theme the page is served puts them on darker shades, in the
    light and the dark mode, still and hovered."""
    with urllib.request.urlopen(server.url + "theme.css", timeout=30) as r:
        css = r.read().decode()
    shades = dict(re.findall(r"--([\w-]+): (#[0-9a-f]{6});", css))
    fills = re.findall(r"--button-(?:primary|cancel)-background-fill(?:-hover)?: ([^;]+);", css)
    assert len(fills) == 8, fills
    assert set(re.findall(r"--button-(?:primary|cancel)-text-color: ([^;]+);", css)) == {"white"}
    for fill in fills:
        rgb = [c / 255 for c in plots.hex_rgb(shades[fill[6:-1]] if fill.startswith("var(--") else fill)]
        assert 1.05 / (plots._luminance(rgb) + 0.05) >= plots.TEXT_CONTRAST, fill


@pytest.mark.parametrize("name, expected", [
    ("notes", "notes.mp4: cannot be read as audio or video"),
    ("silent", "silent.mp4 has no sound track"),
    ("long", f"long.mp4 lasts 25 s; this demo analyses up to {MAX_SECONDS} s"),
    ('my "long" talk', f'my "long" talk.mp4 lasts 25 s; this demo analyses up to {MAX_SECONDS} s'),
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


def tiny_model(folder: Path) -> mmsent.FusionModel:
    """A tiny random model with all three branches, loaded from disk (the app's checks, not accuracy)."""
    torch.manual_seed(0)
    return mmsent.load_model(save_checkpoint(build_model(tiny_config()), folder / "tiny"), device="cpu")


def page_analysis(tmp_path: Path):
    """The app, a page's Stops and its request, and the click handler bound to a tiny model, writing under tmp_path."""
    app = load_app()
    stops, page = app.Stops(), gr.Request(session_hash="page-1")
    settings = app.Settings(max_seconds=MAX_SECONDS, max_mb=MAX_MB, out_root=tmp_path)
    return app, stops, page, app.make_analyze(tiny_model(tmp_path), settings, "the model", stops)


@pytest.mark.parametrize("at", ["", "speech recognition", "drawing the video"])
def test_stop_ends_the_analysis_at_its_next_step_and_keeps_nothing(tmp_path, media, at, capsys):
    """The page's Stop stops its analysis at the next progress step, wherever it is: before it
    starts (pressed while it waited in the queue), in speech recognition, while the video is drawn on. It
    returns no results and a note that says so, also as a gr.Info toast (a screen reader reads the toast, not
    the notes; outside a page gr.Info prints), and leaves no request folder; a new click is not stopped. The file's
    name is shown as typed ("_draft_.mp4" was in italics)."""
    from markdown_it import MarkdownIt
    app, stops, page, analyze = page_analysis(tmp_path)
    stages = []

    def progress(fraction, desc=None):
        stages.append(desc)
        if at and desc.startswith(at):
            stops.stop(page)

    stops.click(page)  # Analyse's first step
    if not at:
        stops.stop(page)
    draft = tmp_path / "_draft_.mp4"  # shown as typed, not in italics
    shutil.copy(media["speech"], draft)
    result = analyze(str(draft), annotated_video=True, progress=progress, request=page)
    assert result[:7] == (None,) * 7 and result[8:] == (None, None)
    assert re.match(rf"<p><strong>Stopped</strong> at {at or 'checking the file'}.*: the analysis of _draft_\.mp4 was "
                    "stopped and nothing was kept", MarkdownIt().render(result[7])), result[7]
    assert re.search(rf"^Stopped at {at or 'checking the file'}.*: the analysis of _draft_\.mp4 was stopped and "
                     r"nothing was kept\.$", capsys.readouterr().out, re.MULTILINE)
    assert (stages[-1].startswith(at) if at else not stages) and not list(tmp_path.glob("req-*"))
    stops.stop(page)  # a Stop with nothing running, then the next click: that analysis runs
    stops.click(page)
    assert analyze(str(media["speech"]), progress=lambda *a, **k: None, request=page)[6] is not None


def test_a_stop_then_a_click_at_once_stops_the_running_analysis_without_a_word(tmp_path, media, capsys):
    """Stop, then Analyse at once (to start again, say with other options): the click's first step came before the
    running analysis's next one and cleared its Stop, so that it ran to its end, its results shown, before the new
    one. Then the running one stopped, but its "Stopped" note came after the click had cleared the page, and stayed
    beside the new analysis's progress, its toast too. It stops and says nothing (every output as the click left it:
    gr.skip); the click's own analysis runs."""
    app, stops, page, analyze = page_analysis(tmp_path)
    stages = []

    def progress(fraction, desc=None):
        stages.append(desc)
        if desc.startswith("speech recognition") and sum(d.startswith("speech recognition") for d in stages) == 1:
            stops.stop(page)  # the Stop button
            stops.click(page)  # Analyse's first step, before this analysis's next progress step
    stops.click(page)
    result = analyze(str(media["speech"]), progress=progress, request=page)
    assert result == (gr.skip(),) * len(OUTPUTS) and "Stopped" not in capsys.readouterr().out, result
    assert analyze(str(media["speech"]), progress=progress, request=page)[6] is not None


def test_a_new_click_during_an_analysis_stops_it_and_shows_nothing_of_it(tmp_path, media):
    """Analyse pressed again (for another file, say) while the page's analysis ran: the running one went on, and
    its results came after the click had cleared the page, the first file's results under the second's progress.
    A click stops the page's analyses that joined the queue before it, at their next step, running or still waiting
    (an example clicked, then Analyse), and they leave the page as the click left it; the click's own runs."""
    app, stops, page, analyze = page_analysis(tmp_path)
    stages = []

    def progress(fraction, desc=None):
        stages.append(desc)
        if desc.startswith("speech recognition") and sum(d.startswith("speech recognition") for d in stages) == 1:
            stops.click(page)  # Analyse again, while the first runs
    stops.click(page)
    assert analyze(str(media["speech"]), progress=progress, request=page) == (gr.skip(),) * len(OUTPUTS)
    assert stages[-1].startswith("speech recognition")  # stopped at its next step
    result = analyze(str(media["silent"]), str(media["words"]), progress=progress, request=page)
    assert "parrot sings loudly" in " ".join(s["text"] for s in json.loads(out(result, "json"))["segments"]).lower()
    waiting = time.monotonic()  # an example's analysis joins the queue, then Analyse is clicked
    stops.click(page)
    assert stops.why(page, waiting) == app.NEWER and stops.why(page, time.monotonic()) is None


def test_a_double_click_runs_one_analysis(tmp_path, media, monkeypatch):
    """A double click on Analyse ran the file's analysis twice, one after the other, the second's progress over the
    first's results (a real browser: 3 of 3 double clicks). The page reads the first click's inputs after the second
    click's first step: both analyses are the second click's, and the second does nothing. A page is remembered after
    its analysis (to know its click answered), the last MAX_PAGES pages to click; an API client never clicks."""
    app, stops, page, analyze = page_analysis(tmp_path)
    steps = []
    progress = lambda fraction, desc=None: steps.append(desc)  # noqa: E731
    stops.click(page), stops.click(page)  # the two clicks' first steps
    assert analyze(str(media["speech"]), progress=progress, request=page)[6] is not None
    steps.clear()
    assert analyze(str(media["speech"]), progress=progress, request=page) == (gr.skip(),) * len(OUTPUTS)
    assert steps == []  # nothing done
    stops.click(page)  # the next click is analysed
    assert analyze(str(media["speech"]), progress=progress, request=page)[6] is not None
    api = gr.Request(session_hash="api-client")  # analyses without a click, one after the other: each runs
    for _ in range(2):
        assert analyze(str(media["speech"]), progress=progress, request=api)[6] is not None
    assert list(stops._pages) == ["page-1"]
    joined = time.monotonic()  # an example's analysis joins the queue, then Analyse is clicked: the click's runs
    stops.click(page)
    assert stops.why(page, stops.answer(page, joined)) == app.NEWER  # stops at its first step
    assert stops.answer(page, time.monotonic()) is not None and stops.why(page, joined) == app.NEWER
    with pytest.raises(app.Answered):
        stops.answer(page, time.monotonic())
    monkeypatch.setattr(stops, "MAX_PAGES", 3)
    for n in range(2, 6):
        stops.click(gr.Request(session_hash=f"page-{n}"))
    assert list(stops._pages) == ["page-3", "page-4", "page-5"]


def test_an_analysis_knows_when_it_joined_the_queue():
    """enqueued() read no time in a real queue (Gradio's queue is falsy while no event waits: it has a length), so an
    analysis that joined the queue before its page's last click (an example's, waiting) did not stop for it."""
    app = load_app()
    with gr.Blocks() as demo:
        out = gr.Number()
        gr.Button().click(app.enqueued, None, out, api_name="joined")
    demo.queue().launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        before = time.monotonic()
        joined = Client(demo.local_url, verbose=False).predict(api_name="/joined")
        assert before <= joined <= time.monotonic()
    finally:
        demo.close()


def test_each_upload_is_probed_once(tmp_path, media, monkeypatch):
    """check_input probes the upload for its limits; the analysis reuses what it learned."""
    app = load_app()
    model = tiny_model(tmp_path)
    probed, probe = [], mmsent_media.probe
    for module in list(sys.modules.values()):  # wherever the function is bound: mmsent.media, app, ...
        if getattr(module, "probe", None) is probe:
            monkeypatch.setattr(module, "probe",
                                lambda path, *track: probed.append(str(path)) or probe(path, *track))
    settings = app.Settings(max_seconds=MAX_SECONDS, max_mb=MAX_MB, out_root=tmp_path)
    analysis, _ = app.run_analysis(model, settings, str(media["silent"]), str(media["words"]), "auto",
                                   "faster-whisper", 10.0, lambda *a, **k: None)
    assert analysis.segments and probed == [str(media["silent"])]


def test_each_analysis_is_checked_once(tmp_path, media, monkeypatch):
    """export.write checks the analysis (Analysis.check reads it all back: 0.28 s for 1,400 segments); the JSON shown
    on the page is the checked one it wrote, not checked again by to_json."""
    app = load_app()
    analyze = app.make_analyze(tiny_model(tmp_path), app.Settings(max_seconds=MAX_SECONDS, max_mb=MAX_MB,
                                                                  out_root=tmp_path), "the model")
    checks, check = [], Analysis.check
    monkeypatch.setattr(Analysis, "check", lambda self: checks.append(1) or check(self))
    result = analyze(str(media["silent"]), str(media["words"]), progress=lambda *a, **k: None,
                     request=gr.Request(session_hash="page-1"))
    shown, files = result[-1], result[-2]
    assert len(checks) == 1
    assert shown + "\n" == next(Path(f) for f in files if f.endswith(".json")).read_text(encoding="utf-8")
    assert Analysis.from_dict(json.loads(shown)).segments


def test_a_full_disk_is_said_as_such_not_as_a_bug(tmp_path, media, monkeypatch, caplog):
    """A server whose disk filled up told the user "The analysis failed unexpectedly (OSError: [Errno 28] No space
    left on device)", a bug to report; and its log gave a traceback, not where the space went. The full disk is a
    stand-in (the analysis's write raises ENOSPC): a test can't fill a real disk without mounting one (root)."""
    import errno

    app = load_app()
    analyze = app.make_analyze(tiny_model(tmp_path), app.Settings(max_seconds=MAX_SECONDS, max_mb=MAX_MB,
                                                                  out_root=tmp_path), "the model")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(app.export, "write", full)
    with pytest.raises(gr.Error) as e, caplog.at_level("ERROR"):
        analyze(str(media["silent"]), str(media["words"]), progress=lambda *a, **k: None,
                request=gr.Request(session_hash="page-1"))
    assert e.value.message.startswith("The server's disk is full: the analysis could not be kept. Try again later")
    assert f"the disk is full: the analysis of {media['silent']} could not be kept" in caplog.text
    assert f"results go to {tmp_path}" in caplog.text and "Traceback" not in caplog.text


def test_a_video_without_sound_and_with_the_face_unticked_is_refused_before_analysis(tmp_path, media, monkeypatch):
    app = load_app()
    model = tiny_model(tmp_path)
    monkeypatch.setattr(mmsent, "analyze", lambda *a, **k: pytest.fail("analysed"))
    settings = app.Settings(max_seconds=MAX_SECONDS, max_mb=MAX_MB, out_root=tmp_path)
    with pytest.raises(app.gr.Error) as refused:
        app.run_analysis(model, settings, str(media["silent"]), None, "auto", "faster-whisper", 10.0,
                         lambda *a, **k: None, ["words", "voice"])
    assert refused.value.message == ("silent.mp4 has no sound track: there is no speech to transcribe, and the "
                                     "face is unticked (Options, Senses). Upload a video with sound, or add a "
                                     "subtitle file, or tick the face.")
    with pytest.raises(app.gr.Error) as refused:  # the voice alone, beside subtitles: analysed to read nothing before
        app.run_analysis(model, settings, str(media["silent"]), str(media["words"]), "auto", "faster-whisper", 10.0,
                         lambda *a, **k: None, ["voice"])
    assert refused.value.message == ("silent.mp4 has no sound track: there is no voice to hear, and the words (read "
                                     "from the subtitles) and the face are unticked (Options, Senses). Tick the words "
                                     "or the face.")


@pytest.mark.parametrize("file, senses, expected", [
    ("speech", ["words"], "speech.mp4: this model does not read the words (untrained): there is nothing to read. "
                          "Tick the voice (Options, Senses)."),
    ("silent", ["words", "voice", "face"], "silent.mp4 has no sound track, and this model does not read the face "
                                           "(untrained): there is nothing to read. Upload a video with sound."),
])
def test_what_the_model_does_not_read_is_refused_saying_what_to_tick(tmp_path, media, monkeypatch, file, senses,
                                                                     expected):
    """A voice-only model (train.train --branches audio), the words ticked: refused in the library's words, which
    name no box to tick; a silent video: "this model's video branch is untrained", for any model without a face."""
    app = load_app()
    torch.manual_seed(0)
    voice = mmsent.load_model(save_checkpoint(build_model(tiny_config(trained_branches=("audio",))), tmp_path / "v"),
                              device="cpu")
    monkeypatch.setattr(mmsent, "analyze", lambda *a, **k: pytest.fail("analysed"))
    settings = app.Settings(max_seconds=MAX_SECONDS, max_mb=MAX_MB, out_root=tmp_path)
    with pytest.raises(app.gr.Error) as refused:
        app.run_analysis(voice, settings, str(media[file]), None, "auto", "faster-whisper", 10.0,
                         lambda *a, **k: None, senses)
    assert refused.value.message == expected


def test_a_sound_with_only_the_face_ticked_is_refused_before_analysis(tmp_path, media, monkeypatch):
    """A file without a picture and only the face ticked: it was analysed (speech recognition and all) to read
    nothing, its plots and table empty, where a video without sound and the face unticked is refused at once."""
    app = load_app()
    monkeypatch.setattr(mmsent, "analyze", lambda *a, **k: pytest.fail("analysed"))
    settings = app.Settings(max_seconds=MAX_SECONDS, max_mb=MAX_MB, out_root=tmp_path)
    with pytest.raises(app.gr.Error) as refused:
        app.run_analysis(tiny_model(tmp_path), settings, None, None, "auto", "faster-whisper", 10.0,
                         lambda *a, **k: None, ["face"], sound=str(media["speech_sound"]))
    assert refused.value.message == ("speech_sound.wav has no picture, and the words and the voice are unticked "
                                     "(Options, Senses): there is nothing to read. Tick the words or the voice.")


def path_with_ffmpeg_but_no_ffprobe(folder: Path) -> str:
    """PATH: a folder holding only imageio-ffmpeg's binary as ``ffmpeg``, then every folder of PATH
    without an ffprobe (a static ffmpeg build, or imageio-ffmpeg linked into PATH, looks like this)."""
    folder.mkdir()
    (folder / "ffmpeg").symlink_to(imageio_ffmpeg.get_ffmpeg_exe())
    kept = [d for d in os.environ["PATH"].split(os.pathsep) if d and not (Path(d) / "ffprobe").exists()]
    path = os.pathsep.join([str(folder), *kept])
    assert shutil.which("ffmpeg", path=path) == str(folder / "ffmpeg") and shutil.which("ffprobe", path=path) is None
    return path


def test_app_starts_and_works_with_ffmpeg_but_no_ffprobe(tmp_path, media):
    env = {**os.environ, "PATH": path_with_ffmpeg_but_no_ffprobe(tmp_path / "bin")}
    with AppServer(tmp_path / "app.log", env=env) as app:  # the examples' videos are processed at start
        client = Client(app.url, analytics_enabled=False, verbose=False)
        result = client.predict(handle_file(media["silent"]), handle_file(media["words"]), api_name="/analyze")
        log = app.log_tail(100_000)
    assert "parrot sings loudly" in " ".join(s["text"] for s in json.loads(out(result, "json"))["segments"]).lower()
    assert Path(out(result, "video")["value"]).is_file()  # the result's video went through gradio's Video too
    assert "ffprobe is not" in log and "FFExecutableNotFoundError" not in log


def test_the_subtitles_input_takes_every_format_the_library_reads():
    """It took .srt and .vtt alone, where ASS/SSA subtitles (Aegisub's, fansubs') are read too."""
    app = load_app()
    with app.gr.Blocks():
        inputs = dict(zip(app.INPUTS, app._input_components()))
    assert inputs["subtitles"].file_types == [".srt", ".vtt", ".ass", ".ssa"]
    assert ".srt, .vtt, .ass or .ssa" in inputs["subtitles"].label


@pytest.mark.parametrize("name", ["*Bob*", "_Ann_", "<b>Ann</b>", "# Narrator", "Tom &amp; Jerry", "1. Chorus",
                                  "[Bob](javascript:x)", "`Cy` \\ ~~Dee~~", "ليلى"])
def test_the_note_shows_each_speaker_as_the_subtitles_name_them(name):
    """The note's "By speaker" list gave a name to Gradio's Markdown as it was: "*Bob*" was shown in italics,
    "<b>Ann</b>" in bold, "# Narrator" as a heading, "Tom &amp; Jerry" (an ASS Name, read as written) as "Tom & Jerry".
    Rendered as Markdown (CommonMark, as Gradio's is), each is shown as typed, in its own direction (an isolate)."""
    from markdown_it import MarkdownIt

    analysis = make_analysis(3)
    analysis.segments[0].speaker = name
    note = load_app().analysis_note(analysis, "")
    listed = re.search(r"\*\*By speaker:\*\*\n\n(.*?)(\n\n|$)", note, re.DOTALL).group(1)
    shown = re.fullmatch(r"<ul>\n<li>(.*)</li>\n</ul>\n", MarkdownIt().render(listed), re.DOTALL).group(1)
    assert shown == f"\u2068{html.escape(name, quote=False)}\u2069: {analysis.speaker_summary(name)}"


def test_the_notes_show_file_names_and_tags_as_typed():
    """The notes, the model's load warnings and the transcript's source went to Gradio's Markdown as written: a
    subtitle file "_draft_ *v2*.srt" was shown as "draft v2.srt", its parts in italics; an audio track titled
    "<b>Director</b>" in its file, in bold. None of the notes means Markdown (they are plain words, as the CLI prints
    them): rendered as CommonMark, as Gradio's Markdown is, each is shown as typed."""
    from markdown_it import MarkdownIt

    analysis = make_analysis(3)
    analysis.transcript_source = "subtitles:_draft_ *v2*.srt"
    analysis.notes = ["The speech sounds like 'de' (Whisper's probability 0.93), and the subtitles name no language: "
                      "their words were read as English. If they are in 'de', give it (--language de, the page's "
                      "Spoken language, or name them _draft_ *v2*.de.srt) to translate the speech for the words.",
                      "The file has 2 audio tracks: track 2 (eng, <b>Director</b> [cut] #1 & co) was analysed, as "
                      "chosen ('eng')."]
    shown = MarkdownIt().render(load_app().analysis_note(analysis, ""))
    assert "<p><strong>Transcript:</strong> subtitles:_draft_ *v2*.srt · language" in shown, shown
    listed = re.search(r"<p><strong>Notes:</strong></p>\n<ul>\n(.*)</ul>", shown, re.DOTALL).group(1)
    assert listed == "".join(f"<li>{html.escape(n, quote=False)}</li>\n" for n in analysis.notes), listed
    warning = "runs/_best_/config.json: *old* <b>format</b>"  # a model's load warning names its files
    shown = MarkdownIt().render(load_app().model_note(build_model(tiny_config()), [warning]))
    assert f"<p>⚠️ {html.escape(warning, quote=False)}</p>" in shown, shown


def test_every_language_whisper_knows_is_offered_by_name():
    """The page offered seven languages: typing "Japanese" went back to detecting the language."""
    from mmsent.transcribe import whisper_languages

    offered = dict(load_app().spoken_languages())
    assert offered["detect automatically"] == "auto" and offered["Japanese"] == "ja" and offered["English"] == "en"
    assert sorted(offered.values()) == sorted(["auto", *whisper_languages()])


@pytest.mark.parametrize("args, says", [
    (["--max-seconds", "nan"], "--max-seconds"), (["--max-seconds", "inf"], "--max-seconds"),
    (["--max-mb", "inf"], "--max-mb"), (["--port", "70000"], "--port"), (["--port", "-1"], "--port"),
    (["--port", "in use"], "in use")])
def test_a_bad_flag_is_refused_in_one_line_before_the_model_loads(args, says, capsys):
    """NaN or infinite limits, a port out of range or in use: each gave a traceback (ValueError, OverflowError,
    gradio's OSError, which told to pass `server_port` to `launch()`), after the model had loaded."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        args = [a.replace("in use", str(busy.getsockname()[1])) for a in args]
        with pytest.raises(SystemExit) as e:
            load_app().parse_args(["--host", "127.0.0.1", *args])
    err = capsys.readouterr().err
    assert e.value.code == 2 and says in err.splitlines()[-1] and "Traceback" not in err, err
    if says == "in use":  # not a typo in the command: no usage block before it
        assert len(err.splitlines()) == 1, err


def test_a_port_variable_that_is_not_a_port_is_refused_in_one_line():
    """GRADIO_SERVER_PORT=abc python app.py: gradio reads the variable with int() as it is imported, which was a
    traceback; a number that is not a port was refused as --port's, without a word of the variable. (Both run at
    once: each spends most of its time importing, on one core.)"""
    runs = {value: subprocess.Popen([sys.executable, str(ROOT / "app.py")], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, env={**os.environ, "GRADIO_SERVER_PORT": value})
            for value in ("abc", "70000")}
    for value, run in runs.items():
        _, err = run.communicate(timeout=120)
        assert run.returncode == 2 and "Traceback" not in err, err
        assert err.splitlines() == [f"app.py: error: GRADIO_SERVER_PORT={value!r} is not a port: give a whole number "
                                    "from 0 (any free port) to 65535 (or a --port, which takes its place)"], err
