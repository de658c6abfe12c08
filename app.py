"""mmsent demo: upload or record a video (or a sound), watch emotion and sentiment over time.

    python app.py [--host 127.0.0.1] [--port 7860] [--share] [--checkpoint DIR]
                  [--max-seconds 600] [--max-mb 500] [--concurrency 1]

UI only: everything it shows comes from the public ``mmsent`` API (load_model, analyze, plots,
export). The model is loaded once at start-up; each click runs one analysis in the queue, whose
concurrency limit keeps a CPU machine from running several at once (the others wait their turn).
Stop ends the page's analysis at its next progress step; so does closing the page, or an API client
cancelling its job (``left``): neither leaves the server analysing for nobody while others wait. A new click on
Analyse or an example replaces the page's analysis: the running one stops at its next step and shows nothing.
Library errors become a ``gr.Error`` with the library's message; an unexpected error is logged on
the server and shown as one line, never a stack trace. The same analysis is served to programs as
the Gradio API endpoint ``/analyze``, the only one the API page lists: a video (or a sound file, by
name) is required, the other inputs have the page's defaults and can be given by name (README: "From a
program").
"""

from __future__ import annotations

import os

# Before gradio is imported: no analytics, no version check, no hub telemetry.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
# The port (--port's default) from GRADIO_SERVER_PORT, which gradio reads with int() as it is imported: another value
# was a traceback. It is kept from gradio and refused in one line by parse_args, as a --port that is not a port.
PORT_VARIABLE = "GRADIO_SERVER_PORT"
ENV_PORT = os.environ.get(PORT_VARIABLE)
if ENV_PORT is not None and not ENV_PORT.strip().isdecimal():
    del os.environ[PORT_VARIABLE]

import argparse  # noqa: E402
import atexit  # noqa: E402
import contextlib  # noqa: E402
import errno  # noqa: E402
import html  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402
import gradio.processing_utils  # noqa: E402
import pandas as pd  # noqa: E402

import mmsent  # noqa: E402
from mmsent import export, media, plots  # noqa: E402
from mmsent.checkpoint import pick_device  # noqa: E402
from mmsent.config import ASR_BACKENDS, LONGEST_SEGMENT_S, AnalysisOptions, HelpFormatter, checked_argument  # noqa: E402
from mmsent.labels import MODALITIES, MODALITY_NAMES  # noqa: E402
from mmsent.pipeline import senses_given, senses_in  # noqa: E402
from mmsent.results import DISK_FULL, Analysis, SegmentResult, counted, duration_text  # noqa: E402
from mmsent.subtitles import SUBTITLE_SUFFIXES  # noqa: E402
from mmsent.transcribe import TranscriptionError, whisper_languages  # noqa: E402

log = logging.getLogger("mmsent.app")

HERE = Path(__file__).resolve().parent
EXAMPLES_DIR = HERE / "examples"
DEFAULT_MAX_SECONDS = 600.0  # s of media accepted (10 min: a few minutes of analysis on 2 CPU cores)
DEFAULT_MAX_MB = 500.0  # MB per upload
MB = 2 ** 20  # bytes: a MB as Gradio's own message on a refused upload counts it ("500.0 Mb")
DEFAULT_CONCURRENCY = 1  # analyses running at once (more only with a GPU or many cores)
DEFAULT_QUEUE_SIZE = 16  # requests waiting at most; beyond that, users are told the queue is full
OUTPUT_MAX_AGE_S = 3600  # s: per-request output folders older than this are removed
NAME_MAX_BYTES = 200  # bytes of a file's name that Gradio keeps (an upload's, a result's), cutting the end of its stem
DOWNLOAD_FORMATS = ("json", "csv", "srt", "vtt", "html")  # export formats offered for download
# analyze's arguments, in order (those added last keep the older ones in place for programs)
INPUTS = ("video", "subtitles", "language", "asr", "max_segment_seconds", "senses", "translate", "sound",
          "annotated_video", "audio_track")
SEGMENT_SECONDS = (2.0, LONGEST_SEGMENT_S, 10.0)  # min, max, default longest utterance (s) before a split
SENSES = tuple(MODALITY_NAMES.values())  # words, voice, face: what the Senses option offers
USER_ERRORS = (media.MediaError, TranscriptionError, mmsent.AnalysisError, mmsent.CheckpointError,
               mmsent.SourceUnavailable, ValueError)  # their messages are written for users
TABLE_COLUMNS = ("start (s)", "end (s)", "text", "emotion", "p (emotion)", "sentiment",
                 "p (sentiment)", "each sense says", "contributions")  # headers wrap at spaces only
OUTPUT_COUNT = 10  # analyze's outputs: the video, 5 figures, the table, the notes, the files, the JSON
UNCHANGED = (gr.skip(),) * OUTPUT_COUNT  # analyze's outputs where a later click replaced it: as that click left them
ANALYSIS_QUEUE = "analysis"  # concurrency group of every event that runs an analysis (button, examples)
PLOT_MIN_WIDTH = 440  # px: two plots in a row narrower than twice this stack
TABLE_WIDTHS = ("70px", "70px", "290px", "95px", "95px", "105px", "130px", "230px", "130px")  # per column: about
# the width of a desktop page (1,215 px); a narrower screen scrolls the table sideways instead of breaking its words
CSS = ("#segments-table .body-cell span { unicode-bidi: plaintext; text-align: start; }"  # each cell of the table in
       # the direction of its own words (Gradio lays every cell out left to right): Arabic and Hebrew read right to
       # left, aligned right, with their "!" and digits where they belong
       "\n#downloads .label-clear-button { display: none; }"  # Gradio gives an output's files a "Remove this file"
       # button each (×), in the Tab order, which took the download off the page until the next analysis
       "\n#no-camera { margin: 0.5em 1em; color: var(--error-text-color); }")
# Gradio's webcam leaves a camera it can't open unsaid (a machine without one, one another program holds): the error
# is thrown in the page and the video stays at "Click to Access Webcam". Said in the video's box, as an alert, until
# the box is clicked again. (Its microphone says "No microphone found" itself.) And the downloads' links are named.
PAGE_JS = """() => {
  const said = {NotFoundError: 'No camera was found', NotReadableError: 'The camera could not be started (another '
                + 'program may be using it)', OverconstrainedError: 'The camera can not record as asked'};
  let asked = false;  // the last click was in the video's box (its camera asked for)
  document.addEventListener('click', (event) => {
    asked = !!event.target.closest?.('#video-in');
    if (asked) document.querySelector('#no-camera')?.remove();
  }, true);
  addEventListener('unhandledrejection', (event) => {
    const box = document.querySelector('#video-in');
    if (!asked || !box || !(event.reason instanceof DOMException) || !said[event.reason.name]) return;
    const note = document.createElement('p');
    note.id = 'no-camera';
    note.setAttribute('role', 'alert');
    note.textContent = `${said[event.reason.name]}: connect one and let this page use it, then reload the page; or `
                       + 'upload a video file.';
    box.append(note);
  });
  // Gradio's download links read only as their size ("1.2 KB ⇣"): each is named after its file too
  new MutationObserver(() => {
    for (const link of document.querySelectorAll('#downloads td.download a')) {
      const file = link.closest('tr')?.querySelector('td.filename')?.textContent.replace(/\s+/g, '');
      const name = `Download ${file} (${link.textContent.replace(/[\s\u21e3]+/g, ' ').trim()})`;
      if (file && link.getAttribute('aria-label') !== name) link.setAttribute('aria-label', name);
    }
  }).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""
MARKDOWN_SIGNS = re.compile(r"([\\`*_{}\[\]()#+\-.!<>|~&])")  # what Markdown (and HTML in it) reads as signs
THEME = gr.themes.Default().set(  # Gradio's own, its buttons a shade darker: Analyse wrote white on orange at 2.8:1
    # and Stop white on red at 3.8:1, under the 4.5:1 that WCAG AA asks of words
    button_primary_background_fill="*primary_700", button_primary_background_fill_hover="*primary_800",
    button_primary_background_fill_dark="*primary_700", button_primary_background_fill_hover_dark="*primary_800",
    button_cancel_background_fill="#dc2626", button_cancel_background_fill_hover="#b91c1c")


@dataclass
class Settings:
    """What one running demo allows and where it writes."""

    max_seconds: float = DEFAULT_MAX_SECONDS  # longest media accepted, s
    max_mb: float = DEFAULT_MAX_MB  # largest upload accepted, MB
    out_root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mmsent-app-")))


def spoken_languages() -> list[tuple[str, str]]:
    """(name, ISO code) of every language Whisper knows, by name ("auto" lets it detect the language; typing
    filters the list)."""
    from transformers.models.whisper.tokenization_whisper import LANGUAGES  # Whisper's own: code -> name

    known = set(whisper_languages())
    return [("detect automatically", "auto")] + sorted((name.title(), code) for code, name in LANGUAGES.items()
                                                       if code in known)


def model_note(model: mmsent.FusionModel, load_warnings: list[str], unused: bool = True) -> str:
    """Markdown on the model: the senses it reads, those it cannot (if ``unused``), load warnings."""
    used = [MODALITY_NAMES[m] for m in MODALITIES if m in model.encoders]
    missing = [MODALITY_NAMES[m] for m in MODALITIES if m not in model.encoders]
    lines = [f"**Senses the model reads:** {', '.join(used) or 'none'}."]
    if unused and missing:
        lines.append(f"⚠️ **Not read:** {', '.join(missing)}: untrained in this checkpoint or unavailable "
                     "offline, so the analysis relies on the other senses only.")
    lines += [f"⚠️ {as_typed(w)}" for w in load_warnings]  # they name files: runs/_best_/config.json as typed
    return "\n\n".join(lines)


def analysis_note(analysis: Analysis, model_lines: str) -> str:
    """Markdown: the model lines, what the analysis used, its summary, each speaker's where the subtitles name them,
    and its notes (a list). The transcript's source and the notes are plain words, shown as typed: they name files
    and what was typed or tagged (a subtitle file "_draft_.srt", an audio track's title), whose signs Markdown read."""
    s = analysis.summary()
    lines = [model_lines, f"**Transcript:** {as_typed(analysis.transcript_source or 'none')}"
             f" · language {analysis.language_text} · {counted(len(analysis.segments), 'segment')}"
             f" over {analysis.media.duration:.1f} s."]
    if s.dominant_emotion is not None:
        lines.append(f"**Overall:** {s.overall} "
                     f"({s.emotion_share[s.dominant_emotion]:.0%} of the time read, its mean probability "
                     f"{s.emotion_mean[s.dominant_emotion]:.2f}), "
                     f"mean sentiment {s.mean_sentiment:+.2f} (−1 negative … +1 positive).")
    if analysis.speakers:  # where the subtitles name them
        lines.append("**By speaker:**\n\n" + "\n".join(f"- {_speaker_line(analysis, name)}"
                                                      for name in analysis.speakers))
    if analysis.notes:  # what could not be used or deserves doubt, and what was found
        lines.append("**Notes:**\n\n" + "\n".join(f"- {as_typed(n)}" for n in analysis.notes))
    return "\n\n".join(lines)


def _speaker_line(analysis: Analysis, name: str) -> str:
    """What one speaker's segments say, for the note: the name as typed (its Markdown signs escaped: "*Bob*" was shown
    in italics, "<b>Ann</b>" in bold, "# Narrator" as a heading) and in its own direction (between U+2068 and U+2069,
    as in the table: an Arabic name took the numbers after it into its right-to-left run)."""
    return f"\u2068{as_typed(name)}\u2069: {analysis.speaker_summary(name)}"


def as_typed(text: str) -> str:
    """``text`` for Gradio's Markdown, shown as typed: each sign that Markdown or HTML reads escaped (a backslash)."""
    return MARKDOWN_SIGNS.sub(r"\\\1", text)


def segment_table(analysis: Analysis) -> pd.DataFrame:
    """One row per segment, columns TABLE_COLUMNS."""
    rows = []
    for s in analysis.segments:
        tops = [s.top_emotion[0], round(s.top_emotion[1], 3), s.top_sentiment[0], round(s.top_sentiment[1], 3)]
        contrib = ", ".join(f"{MODALITY_NAMES[m]} {v:.2f}" for m, v in s.contributions.items())
        rows.append([round(s.start, 2), round(s.end, 2), _words_cell(s) if s.kind == "speech" else "(no speech)",
                     *(tops if s.read else [""] * 4), s.readings_text() or "(nothing read)", contrib])
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def _words_cell(s: SegmentResult) -> str:
    """Who says them where the subtitles name them, the segment's words, and their English translation, the name and
    the translation each between U+2068 and U+2069 (an isolate, laid out in its own direction): after Arabic or Hebrew
    words, "(in English: Nice!)" read "(!in English: Nice)"."""
    said_by = f"\u2068{s.speaker}\u2069: " if s.speaker else ""  # a name in its own direction, as the words
    return said_by + (f"{s.text} \u2068{s.in_english}\u2069" if s.translation else s.text)


def _stopped(at: str, name: str) -> str:
    """What a stopped analysis says: where it was stopped, and the file's ``name`` as the toast or the note shows it."""
    return f"at {at}: the analysis of {name} was stopped and nothing was kept."


def _name(path: str) -> str:
    """An upload's name as the user knows it: a browser sends the double quotes of a file's name as %22 (the
    HTML standard's form encoding), which the server keeps."""
    return Path(path).name.replace("%22", '"')


def _user_message(err: BaseException, paths: dict[str, str]) -> str:
    """The error's message with server-side upload paths replaced by the names the user knows."""
    msg = str(err.args[0]) if err.args and isinstance(err.args[0], str) else str(err)
    for server_path, name in paths.items():
        msg = msg.replace(server_path, name)
    return html.escape(msg, quote=False)


def _refusal(message: str) -> gr.Error:
    """An expected refusal: shown to the user, logged in one line (no traceback in the server log)."""
    return gr.Error(message, print_exception=False)


class Stopped(Exception):
    """The analysis was asked to stop (the Stop button, a closed page); args: the stage reached, and why."""


class Stops:
    """Which analyses of a page go on, by page session. A click on Analyse or an example (``click``, its first step)
    replaces the page's analyses of its earlier clicks, running or waiting: they stop at their next step and show
    nothing (NEWER), where they went on and showed their file's results after the click had cleared the page, under
    the new analysis's progress. Stop (``stop``) holds for the page's analyses of the clicks before it, running or
    waiting (one still waiting stops as it starts); a click after it starts anew. An analysis takes the click it
    answers as it starts (``answer``: the last before it joined the queue, ``enqueued``), then asks ``why`` at each
    progress step with that click's time, and whether its request is still there (``left``).

    A double click asks for two analyses, one after the other, both of the second click's inputs (the page reads them
    after the second click's first step): the second finds its click answered and does nothing. So a page is
    remembered after its analysis ends: the last ``MAX_PAGES`` pages to click are (an API client never clicks)."""

    MAX_PAGES = 10_000

    def __init__(self):
        # session -> when it last clicked, when it last pressed Stop (time.monotonic), and whether an analysis has
        # answered that click; the page that clicked longest ago first
        self._pages: dict[str, tuple[float, float, bool]] = {}
        self._lock = threading.Lock()

    def click(self, request: gr.Request) -> None:
        """A new analysis asked for on the page: those of its earlier clicks stop."""
        if session := _session(request):
            with self._lock:
                self._pages.pop(session, None)
                self._pages[session] = (time.monotonic(), -math.inf, False)
                if len(self._pages) > self.MAX_PAGES:
                    del self._pages[next(iter(self._pages))]

    def stop(self, request: gr.Request) -> None:
        session = _session(request)
        with self._lock:
            if session in self._pages:  # a page that never clicked has nothing to stop
                clicked, _, answered = self._pages[session]
                self._pages[session] = (clicked, time.monotonic(), answered)

    def answer(self, request: gr.Request | None, joined: float | None = None) -> float | None:
        """An analysis starts that joined the queue at ``joined`` (None: not queued): the time of the click it
        answers, its page's last; ``joined`` where it joined the queue before that click (it stops at its first
        step); None where its page has not clicked (an API client, a script). Raises Answered where an analysis has
        answered that click already."""
        session = _session(request)
        with self._lock:
            if session not in self._pages:
                return None
            clicked, stopped, answered = self._pages[session]
            if joined is not None and joined < clicked:
                return joined
            if answered:
                raise Answered
            self._pages[session] = (clicked, stopped, True)
            return clicked

    def why(self, request: gr.Request | None, since: float) -> str | None:
        """Why the page's analysis of its click at ``since`` stops now (NEWER; BY_PAGE: the Stop), or None."""
        with self._lock:
            clicked, stopped, _ = self._pages.get(_session(request), (-math.inf, -math.inf, False))
        return NEWER if clicked > since else BY_PAGE if stopped > since else None


class Answered(Exception):
    """The page's last click has had its analysis (the second of a double click)."""


BY_PAGE = "by its page"  # why an analysis stops: the page's Stop
NEWER = "by a new analysis on its page"  # a later click: the page shows that one's analysis, nothing of this one
GONE = "its page closed or its job cancelled"


def _session(request: gr.Request | None) -> str | None:
    return getattr(request, "session_hash", None)


def _event():
    """The queue and the id of the event whose function runs in this thread; (None, None) outside an event."""
    from gradio.context import LocalContext

    return getattr(LocalContext.blocks.get(None), "_queue", None), LocalContext.event_id.get(None)


def left():
    """Called in an event's function: a check of whether the request that runs it has gone, its page closed
    (Gradio marks the event dead once the page's event stream ends) or its API client's job cancelled (the
    event leaves Gradio's running jobs, and frees its place in the queue, while the thread that runs it goes
    on). Gradio 6.31 tells a running function neither: this reads its queue. The page's unload event would
    tell a closed page, but kept the server from shutting down within its 5 s at Ctrl-C, which left the
    uploads on disk. Outside an event (a test, a script) the request never goes."""
    queue, event_id = _event()
    if queue is None or not event_id:
        return lambda: False
    return lambda: not getattr(_running(queue, event_id), "alive", False)


def enqueued() -> float | None:
    """Called in an event's function: when its request joined the queue (time.monotonic, as Gradio's queue notes
    it), or None outside an event (a test, a script)."""
    queue, event_id = _event()
    event = _running(queue, event_id) if queue is not None and event_id else None  # (an idle queue is falsy)
    return event.enqueue_time if event else None


def _running(queue, event_id: str):
    """The event ``event_id`` among the queue's running jobs, or None where it has left them."""
    return next((e for job in queue.active_jobs if job for e in job if e._id == event_id), None)


def stoppable(progress, why=lambda: None):
    """``progress`` that raises Stopped, with the stage reached and why, once ``why()`` says why (BY_PAGE, NEWER,
    GONE)."""
    def report(fraction: float, desc: str | None = None) -> None:
        if reason := why():
            raise Stopped(desc or "the start", reason)
        progress(fraction, desc=desc)

    return report


def check_input(video: str | None, options: AnalysisOptions, settings: Settings, model: mmsent.FusionModel):
    """Reject what the analysis cannot take, with a message that says what to do; returns MediaInfo.
    ``video``: the file to analyse, a video or a sound."""
    if not video:
        raise _refusal("No video yet: upload a file or record one with the webcam (or give a sound: upload "
                       "one or record it with the microphone), then press Analyse.")
    name = _name(video)
    size_mb = os.path.getsize(video) / MB
    if size_mb > settings.max_mb:
        raise _refusal(f"{name} is {size_mb:.0f} MB; this demo takes files up to {settings.max_mb:.0f} MB. "
                       "Compress or trim it, or run the app yourself with a larger --max-mb.")
    info = media.probe(video, options.audio_track)  # MediaError: not a media file, broken, empty, no such audio track
    if info.duration > settings.max_seconds:
        raise _refusal(f"{name} lasts {duration_text(info.duration, settings.max_seconds)}; this demo analyses up to "
                       f"{duration_text(settings.max_seconds)}. Trim it, or run the app yourself with a larger "
                       "--max-seconds (or use python -m mmsent for long files).")
    given = senses_given(options, info)  # none, or none the model reads: mmsent.analyze refuses it too
    if not given:
        raise _refusal(_nothing_to_read(name, options, info))
    if not set(given) & set(model.encoders):
        raise _refusal(_not_read(name, given, options, info, model))
    return info


def _not_read(name: str, given: tuple[str, ...], options: AnalysisOptions, info: media.MediaInfo,
              model: mmsent.FusionModel) -> str:
    """``pipeline.not_read_by`` in the page's words: the senses ticked that the file gives are none the model reads
    (a silent video, a model that reads no faces); what to tick or give instead."""
    untrained = " and the ".join(MODALITY_NAMES[m] for m in given)
    could = [MODALITY_NAMES[m] for m in senses_in(options, info) if m in model.encoders]
    if could:
        todo = f"Tick the {' or the '.join(could)} (Options, Senses)."
    elif not info.has_audio:
        todo = "Upload a video with sound" + (", or add a subtitle file." if "text" in model.encoders else ".")
    else:
        todo = "Run the app with a model that reads them (--checkpoint)."
    who = f"{name} has no sound track, and this model" if not info.has_audio else f"{name}: this model"
    return f"{who} does not read the {untrained} (untrained): there is nothing to read. {todo}"


def _nothing_to_read(name: str, options: AnalysisOptions, info: media.MediaInfo) -> str:
    """``pipeline.nothing_to_read`` in the page's words: the senses are ticked under Options, Senses."""
    if info.has_audio:  # a sound, and the face alone
        return (f"{name} has no picture, and the words and the voice are unticked (Options, Senses): there is "
                "nothing to read. Tick the words or the voice.")
    if not options.subtitles:
        return (f"{name} has no sound track: there is no speech to transcribe, and the face is unticked (Options, "
                "Senses). Upload a video with sound, or add a subtitle file, or tick the face.")
    return (f"{name} has no sound track: there is no voice to hear, and the words (read from the subtitles) and the "
            "face are unticked (Options, Senses). Tick the words or the face.")


def new_request_dir(settings: Settings) -> Path:
    """A fresh folder for one request's outputs; removes those older than OUTPUT_MAX_AGE_S."""
    now = time.time()
    for old in settings.out_root.glob("req-*"):
        with contextlib.suppress(FileNotFoundError):  # another request's clean-up may remove it first
            if now - old.stat().st_mtime > OUTPUT_MAX_AGE_S:
                shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix="req-", dir=settings.out_root))


def run_analysis(model: mmsent.FusionModel, settings: Settings, video: str | None, subtitles: str | None,
                 language: str, asr: str, max_segment_seconds: float, progress,
                 senses: list[str] = SENSES, translate: bool = True, sound: str | None = None,
                 annotated_video: bool = False, audio_track: str | None = None) -> tuple[Analysis, list[Path]]:
    """Check the input (a video or a sound), analyse it with progress, export the downloads into a fresh
    request folder (with ``annotated_video``, a video's annotated copy too). ``audio_track``: as typed (empty: the
    one a player plays)."""
    progress(0.0, desc="checking the file")
    if video and sound:
        raise _refusal(f"Both a video ({_name(video)}) and a sound ({_name(sound)}) were given: clear "
                       "one of them, then press Analyse. One file is analysed at a time.")
    video = video or sound
    if not senses:
        raise _refusal("No sense is ticked: tick at least one of words, voice and face under Options, Senses.")
    options = AnalysisOptions(asr=asr, language=None if language in (None, "", "auto") else language,
                              subtitles=subtitles or None, max_segment_seconds=float(max_segment_seconds),
                              max_seconds=settings.max_seconds, senses=senses, translate=bool(translate),
                              audio_track=(audio_track or "").strip() or None)
    info = check_input(video, options, settings, model)

    def report(stage: str, done: int, total: int) -> None:
        progress(done / total if total else 0.0, desc=f"{stage} ({done}/{total})")

    t0 = time.monotonic()
    analysis = mmsent.analyze(video, model=model, options=options, progress=report, info=info)  # probed once
    log.info("analysed %s (%.1f s of media, %d segments) in %.1f s", _name(video),
             analysis.media.duration, len(analysis.segments), time.monotonic() - t0)
    if not info.has_audio and not subtitles and not any(s.modalities for s in analysis.segments):
        raise _refusal(f"{_name(video)} has no sound track, and its picture shows no face that looks at "
                       "the camera and moves: there is nothing to read. Upload a video with sound or a visible "
                       "face, or add a subtitle file.")
    progress(1.0, desc="drawing and exporting")
    analysis.media.path = _name(video)  # the user's file and model, not where the server keeps them
    analysis.model["checkpoint"] = analysis.model["name"]
    formats = [*DOWNLOAD_FORMATS, *(["mp4"] if annotated_video and info.has_video else [])]
    out_dir = new_request_dir(settings)
    try:
        files = export.write(analysis, out_dir, formats, video_path=video,
                             progress=lambda done, total: progress(done / total, desc=f"drawing the video ({done}/"
                                                                                      f"{total} frames)"))
    except BaseException:  # stopped or failed: no half of a download is left behind
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    return analysis, _named_as_given(files, Path(video).stem, _name(video))


def _named_as_given(files: list[Path], stem: str, name: str) -> list[Path]:
    """The downloads (``stem`` and their suffixes) renamed after the file as its user named it: its quotes, not the
    %22 of the server's copy (Gradio takes the quotes out of a download's name, as of an upload's). Their one stem is
    cut so that Gradio, which keeps NAME_MAX_BYTES of a name, keeps each suffix whole: the drawn video of a long name
    lost its ".annotated" and read as the upload itself."""
    suffixes = [f.name[len(stem):] for f in files]
    new = Path(name).stem
    while len((new + max(suffixes, key=len)).encode()) > NAME_MAX_BYTES:
        new = new[:-1]
    return [f.rename(f.with_name(new + suffix)) for f, suffix in zip(files, suffixes)]


def make_analyze(model: mmsent.FusionModel, settings: Settings, model_lines: str, stops: Stops | None = None):
    """The click handler (also the API endpoint /analyze), bound to the loaded model; ``stops`` holds the
    pages' clicks and requests to stop."""
    stops = stops or Stops()

    def analyze(video: str | None = None, subtitles: str | None = None, language: str = "auto",
                asr: str = "faster-whisper", max_segment_seconds: float = SEGMENT_SECONDS[2],
                senses: list[str] = SENSES, translate: bool = True, sound: str | None = None,
                annotated_video: bool = False, audio_track: str = "", progress=gr.Progress(),
                request: gr.Request = None):
        """Analyse a video or a sound: returns the video (None for a sound; with ``annotated_video``, its
        annotated copy), 5 figures, the segment table, notes, files and the JSON. Stopped by its page, it
        returns empty results and a note that says so; replaced by a later click on its page, it leaves every
        output as that click left it (UNCHANGED)."""
        paths = {p: _name(p) for p in (video, subtitles, sound) if p}
        try:  # the click this analysis answers; an API client's (or a script's) analysis starts now
            since, gone = stops.answer(request, enqueued()) or time.monotonic(), left()
        except Answered:
            log.info("skipped %s: its click was analysed already (a double click)", video or sound)
            return UNCHANGED

        def why() -> str | None:  # the page's Stop or a later click on it, or the request gone
            return stops.why(request, since) or (GONE if gone() else None)

        try:
            analysis, files = run_analysis(model, settings, video, subtitles, language, asr, max_segment_seconds,
                                           stoppable(progress, why), senses, translate, sound, annotated_video,
                                           audio_track)
        except Stopped as e:
            log.info("stopped %s at %s, %s", video or sound, *e.args)
            if e.args[1] == NEWER:
                return UNCHANGED
            at, name = e.args[0], _name(video or sound) if video or sound else "the file"
            # said to a screen reader too (a toast is a live region; the notes are not); the name as typed in each:
            gr.Info(f"Stopped {_stopped(at, html.escape(name, quote=False))}")  # the toast shows HTML
            return (None,) * 7 + (f"**Stopped** {_stopped(at, as_typed(name))} Press Analyse to start again.\n\n"
                                  f"{model_lines}", None, None)
        except gr.Error as e:  # the app's own checks
            log.info("rejected %s: %s", video or sound, e.message)
            raise
        except USER_ERRORS as e:
            log.info("rejected %s: %s", video or sound, e)
            raise gr.Error(_user_message(e, paths), print_exception=False) from e
        except OSError as e:
            if e.errno not in DISK_FULL:
                raise
            log.error("the disk is full: the analysis of %s could not be kept (%s; results go to %s)", video or sound,
                      e, settings.out_root)
            raise gr.Error("The server's disk is full: the analysis could not be kept. Try again later; whoever runs "
                           "the server finds what to free in its log.", print_exception=False) from e
        except Exception as e:  # a bug: full trace in the server log, one line for the user
            log.exception("analysis of %s failed", video or sound)
            raise gr.Error(f"The analysis failed unexpectedly ({type(e).__name__}: "
                           f"{_user_message(e, paths)}). The server log has the details.") from e
        if stops.why(request, since) == NEWER:  # clicked again after its last step: the new analysis shows
            log.info("stopped %s at its end, %s", video or sound, NEWER)
            return UNCHANGED
        return results(analysis, files, video or sound, model_lines)

    return analyze


def results(analysis: Analysis, files: list[Path], video: str, model_lines: str) -> tuple:
    """analyze's outputs for a finished analysis of ``video`` (a video or a sound)."""
    vtt = next((str(f) for f in files if f.suffix == ".vtt"), None)  # emotion captions in the player
    # the JSON that export.write checked and wrote (to_json would check the analysis again)
    shown_json = next(f for f in files if f.suffix == ".json").read_text(encoding="utf-8").removesuffix("\n")
    figures = list(plots.all_figures(analysis).values())
    annotated = next((str(f) for f in files if f.name.endswith(export.ANNOTATED_SUFFIX)), None)
    shown = (gr.Video(value=annotated, subtitles=None) if annotated else  # its captions drawn in: no track
             # (not the last analysis's, which the page's video kept, over another video)
             gr.Video(value=video, subtitles=vtt) if analysis.media.has_video else None)
    return (shown, *figures, segment_table(analysis),
            analysis_note(analysis, model_lines), [str(f) for f in files], shown_json)


def build_demo(model: mmsent.FusionModel, settings: Settings, load_warnings: list[str]) -> gr.Blocks:
    """The Blocks UI around one loaded model."""
    skip_ffprobe_when_missing()
    stops = Stops()
    analyze = make_analyze(model, settings, model_note(model, load_warnings, unused=False), stops)
    with gr.Blocks(title="mmsent: emotion and sentiment in video", delete_cache=(OUTPUT_MAX_AGE_S,) * 2) as demo:
        gr.Markdown("# mmsent: emotion and sentiment in video\nUpload a video or record one with the "
                    "webcam (or a sound, with the microphone), then press **Analyse**: the speech is "
                    "transcribed, cut into utterances and "
                    "each one is read from what is said, heard and seen. "
                    f"Up to {duration_text(settings.max_seconds)} and {settings.max_mb:g} MB per video.")
        note = model_note(model, load_warnings)
        outputs = _output_components(note)  # placed below, in the layout
        with gr.Row():
            with gr.Column():
                inputs = _input_components()
                with gr.Row():
                    button = gr.Button("Analyse", variant="primary", elem_id="analyse-btn", scale=3)
                    stop = gr.Button("Stop", variant="stop", elem_id="stop-btn", scale=1)
                # The last results are cleared first (an error would leave them beside its message), then
                # the one API endpoint: registered before anything else that runs analyze, so that it keeps
                # its name, and public, so that clients learn the inputs' defaults. Progress shows on the
                # result's video only: over the notes, it hid their text.
                # A click while an analysis runs replaces it: the running one (or one of an example, still waiting)
                # stops at its next step and shows nothing (Stops), and the page runs the click's next ("always_last";
                # Gradio's "once" dropped the click, and its cancels= lost it: the page kept the new analysis waiting
                # for the cancelled one, which never ended for it).
                # Stop: the page's analysis stops at its next step, running or still in the queue.

                def clear(request: gr.Request):
                    stops.click(request)
                    return [None] * 7 + [note, None, None]

                cleared = button.click(clear, None, outputs, queue=False, api_visibility="private", js=NEW_ANALYSIS_JS,
                                       show_progress_on=outputs[0], trigger_mode="always_last")
                cleared.then(analyze, inputs, outputs, api_name="analyze", concurrency_id=ANALYSIS_QUEUE,
                             show_progress_on=outputs[0], trigger_mode="always_last")
                stop.click(stops.stop, None, None, queue=False, api_visibility="private")
                _examples(inputs, outputs, analyze, clear)
            with gr.Column():
                outputs[0].render()  # the video with emotion captions
                outputs[7].render()  # notes
        outputs[1].render()  # emotion timeline
        outputs[2].render()  # what each sense says
        with gr.Row():  # side by side where both fit, else one above the other
            outputs[3].render()  # sentiment timeline
            outputs[4].render()  # emotion share
        for component in outputs[5:7]:  # modality contributions, segment table
            component.render()
        outputs[8].render()  # downloads
        with gr.Accordion("Analysis as JSON (schema: docs/schema.md)", open=False):
            outputs[9].render()
    return demo


# As an analysis starts (a click on Analyse or an example): on a narrow screen the result's video, where the progress
# shows, is below the button and the examples: it is brought into view (on a wide one it is beside them, and nothing
# moves); the error and info toasts are closed: an earlier file's refusal, the last analysis's "Stopped" (they stayed
# their 10 s, over the new analysis). Warnings stay: Gradio's on a video of the wrong type just given (not taken), which
# tells why the input is not the file chosen. (Gradio shows a kind's messages in one toast, closed together: its own
# errors on an upload, too large or of the wrong type, go with the analyses'.)
NEW_ANALYSIS_JS = """() => {
  document.querySelector('#video-out')?.scrollIntoView({block: 'nearest'});
  for (const toast of document.querySelectorAll('[data-testid=toast-body]:is(.error, .info)'))
    toast.querySelector('[data-testid=toast-close]')?.click();
}"""


def _examples(inputs: list, outputs: list, analyze, clear) -> None:
    """Example videos: a click loads one (a sound, subtitles or an audio track given before are cleared: they belong
    to another file) and analyses it with the options as set, in private events (not in the API) that queue in the
    button's concurrency group: an example waits behind a running analysis like any other (which its click stops).
    ``clear``: the Analyse button's first step (the click noted, the last results gone)."""
    examples = sorted(EXAMPLES_DIR.glob("*.mp4"))
    if not examples:
        return
    loaded = gr.Examples([[str(p)] for p in examples], inputs[:1],  # the video only: the options stay as set
                         cache_examples=False, api_visibility="private",
                         example_labels=[p.stem.replace("_", " ") for p in examples])
    def start(request: gr.Request):  # the example alone: not a second file, nor another video's subtitles (their
        # words were read as the example's) or audio track (the examples have one); no results of another video
        return [None, None, "", *clear(request)]

    given = [inputs[INPUTS.index(name)] for name in ("sound", "subtitles", "audio_track")]
    cleared = loaded.load_input_event.then(start, None, [*given, *outputs], queue=False,
                                           api_visibility="private", show_progress_on=outputs[0], js=NEW_ANALYSIS_JS)
    cleared.then(analyze, inputs, outputs, api_name="analyze_example", api_visibility="private",
                 concurrency_id=ANALYSIS_QUEUE, show_progress_on=outputs[0], trigger_mode="always_last")


def skip_ffprobe_when_missing() -> None:
    """Gradio's Video asks ffprobe whether a video plays in a browser whenever an ``ffmpeg`` is on PATH,
    and fails (at start, for the examples, and on every result) where ``ffprobe`` is not (a static
    ffmpeg, imageio-ffmpeg's binary linked into PATH). Without ffprobe, answer as gradio does without
    ffmpeg or when probing fails: the video plays as it is. (The analysis needs neither: PyAV decodes.)"""
    check = gradio.processing_utils.video_is_playable
    if getattr(check, "skips_missing_ffprobe", False):
        return
    gradio.processing_utils.video_is_playable = lambda path: shutil.which("ffprobe") is None or check(path)
    gradio.processing_utils.video_is_playable.skips_missing_ffprobe = True
    if shutil.which("ffmpeg") and not shutil.which("ffprobe"):
        log.warning("ffmpeg is on PATH but ffprobe is not: videos are shown as uploaded, "
                    "without a conversion for the browser")


# A video's and a sound's buttons: Gradio's Share (on by default) posts the file to the Hugging Face Hub's discussions
# from a Space, and says "Must be on Spaces to share" elsewhere: the page keeps what it is given.
NO_SHARING = ["download"]


def _input_components() -> list[gr.components.Component]:
    """The inputs, named as in INPUTS."""
    video = gr.Video(label="Video", sources=["upload", "webcam"], include_audio=True, elem_id="video-in",
                     buttons=NO_SHARING)
    with gr.Accordion("Or a sound alone (a voice memo, a podcast)", open=False):
        sound = gr.Audio(label="Sound", sources=["upload", "microphone"], type="filepath", elem_id="sound-in",
                         buttons=NO_SHARING)
    subtitles = gr.File(label="Subtitles (optional, .srt, .vtt, .ass or .ssa: replaces speech recognition)",
                        file_types=list(SUBTITLE_SUFFIXES), type="filepath", elem_id="subs-in")
    with gr.Accordion("Options", open=False):
        language = gr.Dropdown(spoken_languages(), value="auto", label="Spoken language",
                               info="Detected when auto, from the speech, or from the subtitles' header, name "
                                    "(talk.it.srt) or text. Speech in another language than English is translated "
                                    "for the words.")
        audio_track = gr.Textbox("", label="Audio track", placeholder="the one a player plays", max_lines=1,
                                 elem_id="track-in",
                                 info="For a file with several (a dubbed film, a commentary): its number (1 is the "
                                      "first audio track) or the language it is tagged with (eng, de). Empty: the "
                                      "one a player plays. The notes say which was read.")
        asr = gr.Dropdown(list(ASR_BACKENDS), value=ASR_BACKENDS[0], label="Speech recognition",
                          info="faster-whisper is embedded; openai-whisper downloads its weights from the internet "
                               "the first time")
        segment = gr.Slider(*SEGMENT_SECONDS, step=1.0, label="Longest segment (s)")
        senses = gr.CheckboxGroup(list(SENSES), value=list(SENSES), label="Senses",
                                  info="Untick a sense to leave it out: it is then not read at all.")
        translate = gr.Checkbox(value=True, label="Translate the words into English",
                                info="Speech in another language is written in English by the speech recognition, "
                                     "for the words' encoder, which learned English.")
        annotated_video = gr.Checkbox(value=False, label="Draw on the video",
                                      info="A copy of the video with a box around each face read and the captions "
                                           "drawn in: shown, and in the downloads. The drawing takes longer than "
                                           "the analysis.")
    return [video, subtitles, language, asr, segment, senses, translate, sound, annotated_video, audio_track]


def _output_components(note: str) -> list[gr.components.Component]:
    """The outputs of analyze, in its return order, not yet rendered."""
    return [
        gr.Video(label="Video with emotion captions", interactive=False, elem_id="video-out", buttons=NO_SHARING,
                 render=False),
        gr.Plot(label="Emotion over time", elem_id="emotion-plot", render=False),
        gr.Plot(label="What each sense says (words, voice, face)", elem_id="senses-plot", render=False),
        gr.Plot(label="Sentiment over time", elem_id="sentiment-plot", min_width=PLOT_MIN_WIDTH, render=False),
        gr.Plot(label="Emotion share", elem_id="share-plot", min_width=PLOT_MIN_WIDTH, render=False),
        gr.Plot(label="How much each sense moved the answer", elem_id="contrib-plot", render=False),
        gr.Dataframe(headers=list(TABLE_COLUMNS), label="Segments", interactive=False, wrap=True,
                     column_widths=list(TABLE_WIDTHS), elem_id="segments-table", render=False),
        gr.Markdown(note, label="notes", elem_id="notes", render=False),
        gr.File(label="Downloads", file_count="multiple", interactive=False, elem_id="downloads", render=False),
        # A JSON string rather than gr.JSON: gradio_client would take the "media" object (it has a
        # "path" key) for a file to download.
        gr.Code(language="json", label="analysis", interactive=False, elem_id="analysis-json", render=False),
    ]


def load(checkpoint: str | None, device: str | None) -> tuple[mmsent.FusionModel, list[str]]:
    """Load the model once; returns it and the warnings it gave (shown in the UI)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = mmsent.load_model(checkpoint, device=device)
    for w in caught:
        log.warning("%s", w.message)
    return model, list(dict.fromkeys(str(w.message) for w in caught))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="mmsent demo: emotion and sentiment in video.",
                                formatter_class=HelpFormatter)
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                   help="address to listen on (0.0.0.0: every interface)")
    p.add_argument("--port", type=_port, help=f"port (default: ${PORT_VARIABLE}, else 7860)")
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link (needs internet)")
    p.add_argument("--checkpoint", default="default", help="checkpoint folder, or 'default' for the embedded model")
    p.add_argument("--device", default="auto", type=checked_argument(pick_device),
                   help="cuda, cuda:1, cpu or auto (CUDA when present)")
    p.add_argument("--max-seconds", type=float, default=DEFAULT_MAX_SECONDS, help="longest video accepted (s)")
    p.add_argument("--max-mb", type=float, default=DEFAULT_MAX_MB, help="largest upload accepted (MB)")
    p.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="analyses run at once")
    p.add_argument("--queue-size", type=int, default=DEFAULT_QUEUE_SIZE, help="requests waiting at most")
    args = p.parse_args(argv)
    if not (0 < args.max_seconds < math.inf and 0 < args.max_mb < math.inf) or args.concurrency < 1 \
            or args.queue_size < 1:
        p.error("--max-seconds and --max-mb must be numbers > 0, --concurrency and --queue-size >= 1")

    def refuse(why: str):  # one line: not a typo in the command, so no usage block before it
        p.exit(2, f"{p.prog}: error: {why}\n")

    if args.port is None:
        try:
            args.port = _port("7860" if ENV_PORT is None else ENV_PORT)
        except argparse.ArgumentTypeError as e:
            refuse(f"{PORT_VARIABLE}={e} (or a --port, which takes its place)")
    if taken := cannot_listen(args.host, args.port):  # said now, not after the model has loaded
        refuse(taken)
    return args


def _port(value: str) -> int:
    if not value.strip().isdecimal() or not 0 <= int(value) < 2 ** 16:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port: give a whole number from 0 (any free port) "
                                         "to 65535")
    return int(value)


def cannot_listen(host: str, port: int) -> str | None:
    """Why the server could not listen on host:port (an address unknown or not this machine's, a port in use),
    or None: checked as gradio checks it, whose own refusal came after the model had loaded, as a traceback."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(address)
    except OSError as e:
        remedy = ("another server listens there: give another --port" if e.errno == errno.EADDRINUSE else
                  "give another --port" if e.errno == errno.EACCES else "give an address of this machine with --host")
        return f"cannot listen on {host}:{port}: {e.strerror or e}; {remedy}"
    return None


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        model, load_warnings = load(args.checkpoint, args.device)
    except (mmsent.CheckpointError, mmsent.SourceUnavailable) as e:
        raise SystemExit(f"cannot load the model: {e}") from e
    log.info("model ready:\n%s", mmsent.describe(model))
    settings = Settings(max_seconds=args.max_seconds, max_mb=args.max_mb)
    atexit.register(shutil.rmtree, settings.out_root, True)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as on Ctrl-C, so atexit cleans up
    demo = build_demo(model, settings, load_warnings)
    demo.queue(max_size=args.queue_size, default_concurrency_limit=args.concurrency)
    # show_error: what gradio itself refuses (a call with too few inputs, a value that is not one of a
    # dropdown's choices) reaches API clients as its message; the handler's errors are gr.Error already.
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, ssr_mode=False,
                max_file_size=int(args.max_mb * MB), show_error=True, css=CSS, js=PAGE_JS, theme=THEME)


if __name__ == "__main__":
    main()
