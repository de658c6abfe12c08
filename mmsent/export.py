"""Export an Analysis: JSON, CSV, SRT, WebVTT, a self-contained HTML report, an annotated video.

Works from an :class:`~mmsent.results.Analysis` alone (plus the input video for the annotated
one), so a saved JSON file exports again without the model. Every file is written atomically
(temporary file in the target folder, then ``os.replace``): a failure leaves no half file.
Subtitle cues hold the words on one line, then a label line ``[joy 0.71 · positive]``; gap
segments are kept as ``[no speech: neutral 0.52 · neutral]`` (``include_gaps=False`` drops them);
where the senses have their own readings, a last line says what each one says
``(words: joy · voice: anger)``. The annotated video draws the face box of each segment.
Formats and columns are documented in docs/schema.md.
"""

from __future__ import annotations

import bisect
import csv
import html
import importlib.util
import io
import logging
import os
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import numpy as np

from mmsent.labels import MODALITIES
from mmsent.results import FILE_MODE, TASKS, Analysis, SegmentResult, write_text_atomic

log = logging.getLogger(__name__)

FORMATS = ("json", "csv", "srt", "vtt", "html", "mp4")
ANNOTATED_SUFFIX = ".annotated.mp4"  # DIR/X.annotated.mp4 for X.mp4, never the input's own name
CSV_DECIMALS = 6  # probabilities and times in the CSV are rounded to this many decimals
VIDEO_PRESET = "veryfast"  # x264 speed/size trade-off of the annotated video
FONT_FRACTION = 0.045  # caption font size as a fraction of the frame height
MIN_FONT_PX = 12  # smallest caption font, pixels
MAX_CAPTION_LINES = 2  # lines of words in a caption box (plus the label line)
DURATION_TOLERANCE_S = 1.0  # warn when the video and the analysis differ in length by more
BOX_OPACITY = 0.6  # opacity of the caption box's black background
FACE_LINE_FRACTION = 0.015  # face rectangle line width as a fraction of the frame's smaller side
MIN_FACE_LINE_PX = 3  # thinnest face rectangle line, pixels (thinner lines lose their colour in H.264)


def write_json(analysis: Analysis, path: str | os.PathLike) -> Path:
    """The analysis as JSON (schema in docs/schema.md), summary included."""
    analysis.to_json(path)
    return Path(path)


def csv_header(analysis: Analysis) -> list[str]:
    """Column names of write_csv, in order."""
    return [
        "start", "end", "kind", "text", "top_emotion", "top_emotion_prob", "top_sentiment",
        "top_sentiment_prob",
        *(f"emotion_{k}" for k in analysis.emotion_labels),
        *(f"sentiment_{k}" for k in analysis.sentiment_labels),
        "modalities",
        *(f"contribution_{m}" for m in MODALITIES),
        *(f"{m}_{t}_{k}" for m, t, k in _reading_columns(analysis)),
        "face_box",
    ]


def _reading_columns(analysis: Analysis) -> list[tuple[str, str, str]]:
    """(modality, task, label) of each per-sense column, in MODALITIES, TASKS and label order."""
    labels = {"emotion": analysis.emotion_labels, "sentiment": analysis.sentiment_labels}
    return [(m, t, k) for m in MODALITIES for t in TASKS for k in labels[t]]


def write_csv(analysis: Analysis, path: str | os.PathLike) -> Path:
    """One row per segment (UTF-8, comma-separated, quoted where needed); see csv_header.

    ``modalities`` joins the modalities used with "+"; a contribution is empty for a modality
    not used in that segment, and so is a sense's own reading (``text_emotion_joy``, ...).
    ``face_box`` is ``x0 y0 x1 y1`` (fractions of the frame), empty without a face.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(csv_header(analysis))
    for s in analysis.segments:
        emo, emo_p = s.top_emotion
        sen, sen_p = s.top_sentiment
        writer.writerow([
            _num(s.start), _num(s.end), s.kind, s.text, emo, _num(emo_p), sen, _num(sen_p),
            *(_num(s.emotion.get(k, 0.0)) for k in analysis.emotion_labels),
            *(_num(s.sentiment.get(k, 0.0)) for k in analysis.sentiment_labels),
            "+".join(s.modalities),
            *(_num(s.contributions[m]) if m in s.contributions else "" for m in MODALITIES),
            *(_num(s.per_modality[m][t][k]) if m in s.per_modality else ""
              for m, t, k in _reading_columns(analysis)),
            " ".join(map(_num, s.face_box)) if s.face_box else "",
        ])
    return write_text_atomic(path, buf.getvalue())


def write_srt(analysis: Analysis, path: str | os.PathLike, include_gaps: bool = True) -> Path:
    """SubRip subtitles: one cue per segment, words then the label line."""
    blocks = []
    for i, s in enumerate(_cue_segments(analysis, include_gaps), start=1):
        times = f"{timestamp(s.start, ',')} --> {timestamp(s.end, ',')}"
        blocks.append("\n".join([str(i), times, *_cue_lines(s)]))
    return write_text_atomic(path, "\n\n".join(blocks) + "\n" if blocks else "")


def write_vtt(analysis: Analysis, path: str | os.PathLike, include_gaps: bool = True) -> Path:
    """WebVTT subtitles: like write_srt, with '.' before the milliseconds and escaped text."""
    blocks = ["WEBVTT"]
    for i, s in enumerate(_cue_segments(analysis, include_gaps), start=1):
        times = f"{timestamp(s.start, '.')} --> {timestamp(s.end, '.')}"
        lines = [html.escape(ln, quote=False) for ln in _cue_lines(s)]
        blocks.append("\n".join([str(i), times, *lines]))
    return write_text_atomic(path, "\n\n".join(blocks) + "\n")


def timestamp(seconds: float, sep: str) -> str:
    """'HH:MM:SS{sep}mmm' for SRT (sep ',') and WebVTT (sep '.'); negative times clamp to 0."""
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def label_line(seg: SegmentResult) -> str:
    """'joy 0.71 · positive', the top emotion with its probability and the top sentiment."""
    emo, p = seg.top_emotion
    return f"{emo} {p:.2f} · {seg.top_sentiment[0]}"


def write_html(analysis: Analysis, path: str | os.PathLike) -> Path:
    """A self-contained report: the plots (plotly.js inlined, works offline), notes, segments."""
    from mmsent import plots  # plotly is only needed here

    figs = plots.report_figures(analysis)
    divs = [
        fig.to_html(full_html=False, include_plotlyjs=(i == 0), config={"displaylogo": False})
        for i, fig in enumerate(figs.values())
    ]
    return write_text_atomic(path, _html_page(analysis, divs))


def write_video(analysis: Analysis, video_path: str | os.PathLike, out_path: str | os.PathLike) -> Path:
    """The input video with each segment's words, top emotion and sentiment drawn on it (H.264).

    Raises:
        FileNotFoundError: the input video does not exist.
        ValueError: the input has no video stream (nothing to draw on).
    """
    video_path, out_path = Path(video_path), Path(out_path)
    size = _display_size(video_path)
    from moviepy import VideoFileClip  # heavy; only the annotated video needs it

    # moviepy 2.2 misses the rotation that ffmpeg >= 7 reports as side data, then squashes the
    # upright picture into the stored size: ask for the displayed size instead
    with VideoFileClip(str(video_path), target_resolution=size) as clip:
        if abs(clip.duration - analysis.media.duration) > DURATION_TOLERANCE_S:
            warnings.warn(f"{video_path} lasts {clip.duration:.1f} s but the analysis covers "
                          f"{analysis.media.duration:.1f} s: is it the analysed video?", stacklevel=2)
        painter = _OverlayPainter(analysis.segments, tuple(clip.size))
        annotated = clip.transform(lambda get_frame, t: painter.paint(get_frame(t), t))
        # moviepy's ffmpeg writers are not closed when writing is interrupted (Ctrl-C): they can
        # still create their output files afterwards. Writing inside a hidden folder that is removed
        # on failure leaves them nowhere to write, so no stray file is left beside the exports.
        with tempfile.TemporaryDirectory(prefix=f".{out_path.name}.", dir=out_path.parent,
                                         ignore_cleanup_errors=True) as work:
            tmp = Path(work) / out_path.name
            annotated.write_videofile(str(tmp), codec="libx264", audio_codec="aac", logger=None,
                                      preset=VIDEO_PRESET, temp_audiofile=str(Path(work) / "sound.m4a"))
            os.chmod(tmp, FILE_MODE)
            os.replace(tmp, out_path)
    return out_path


def write(analysis: Analysis, out_dir: str | os.PathLike, formats: list[str],
          video_path: str | os.PathLike | None = None) -> list[Path]:
    """Write FORMATS into ``out_dir`` as ``X.json``, ``X.csv``, ... ``X.annotated.mp4`` for ``X.mp4``.

    The annotated video reads ``video_path``, else ``analysis.media.path``. An unknown format
    raises ValueError before anything is written.
    """
    wanted = [f.strip().lower().lstrip(".") for f in formats]
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown export format(s) {', '.join(unknown)}: choose from {', '.join(FORMATS)}")
    source = Path(video_path) if video_path is not None else Path(analysis.media.path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    writers = {"json": write_json, "csv": write_csv, "srt": write_srt, "vtt": write_vtt,
               "html": write_html}
    written = []
    for fmt in dict.fromkeys(wanted):  # each format once, in the order asked
        if fmt == "mp4":
            written.append(write_video(analysis, source, out_dir / f"{source.stem}{ANNOTATED_SUFFIX}"))
        else:
            written.append(writers[fmt](analysis, out_dir / f"{source.stem}.{fmt}"))
        log.info("wrote %s", written[-1])
    return written


def _display_size(video_path: Path) -> tuple[int, int]:
    """(width, height) of the first picture as shown (rotated); errors if there is none to draw on."""
    if not video_path.is_file():
        raise FileNotFoundError(f"cannot annotate {video_path}: no such file")
    import av

    try:
        with av.open(str(video_path)) as container:
            if not container.streams.video:
                raise ValueError(f"cannot annotate {video_path}: it has no video stream to draw on; "
                                 "export json, csv, srt, vtt or html instead")
            frame = next(container.decode(video=0))
    except (av.error.FFmpegError, StopIteration) as e:
        raise ValueError(f"cannot annotate {video_path}: its video does not decode ({e!r})") from e
    w, h, rotation = frame.width, frame.height, getattr(frame, "rotation", 0) or 0
    return (h, w) if abs(rotation) % 180 == 90 else (w, h)


def _num(x: float) -> str:
    return repr(round(float(x), CSV_DECIMALS))


def _cue_segments(analysis: Analysis, include_gaps: bool) -> list[SegmentResult]:
    return [s for s in analysis.segments if include_gaps or s.kind != "gap"]


def _cue_lines(seg: SegmentResult) -> list[str]:
    """The words on one line (no blank line or '-->' that would end the cue), then the label."""
    readings = seg.readings_text(probabilities=False)
    tail = [f"({readings})"] if readings else []
    if seg.kind == "gap":
        return [f"[no speech: {label_line(seg)}]", *tail]
    words = " ".join(seg.text.split()).replace("-->", "->")
    return ([words] if words else []) + [f"[{label_line(seg)}]", *tail]


def find_font() -> Path | None:
    """A TrueType font file for the annotated video: matplotlib's DejaVu Sans, else fontconfig's."""
    spec = importlib.util.find_spec("matplotlib")
    if spec and spec.origin:
        dejavu = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        if dejavu.is_file():
            return dejavu
    if shutil.which("fc-match"):
        found = subprocess.run(["fc-match", "-f", "%{file}", "sans"], capture_output=True, text=True,
                               timeout=10).stdout.strip()
        return Path(found) if found and Path(found).is_file() else None
    return None


class _OverlayPainter:
    """Draws, on each frame, a caption box for the segment playing at that time.

    Frames are uint8 arrays of shape (height, width, 3); a box is rendered once per segment.
    """

    def __init__(self, segments: list[SegmentResult], size: tuple[int, int]):
        from PIL import ImageFont

        self.segments, (self.width, self.height) = segments, size
        self.starts = [s.start for s in segments]
        px, path = max(MIN_FONT_PX, round(self.height * FONT_FRACTION)), find_font()
        if path is None:
            warnings.warn("no TrueType font found: captions use Pillow's default", stacklevel=3)
        self.font = ImageFont.truetype(str(path), px) if path else ImageFont.load_default(px)
        self.line = max(MIN_FACE_LINE_PX, round(min(size) * FACE_LINE_FRACTION))
        self.cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def paint(self, frame: np.ndarray, t: float) -> np.ndarray:
        i = bisect.bisect_right(self.starts, t) - 1
        if i < 0 or t > self.segments[i].end:
            return frame
        if i not in self.cache:
            self.cache[i] = self._render(self.segments[i])
        rgb, alpha = self.cache[i]
        out = frame.copy()
        if self.segments[i].face_box:
            self._face_box(out, self.segments[i])
        region = out[-rgb.shape[0]:].astype(np.float32)
        out[-rgb.shape[0]:] = (region * (1.0 - alpha) + rgb * alpha).round().astype(np.uint8)
        return out

    def _face_box(self, out: np.ndarray, seg: SegmentResult) -> None:
        """A rectangle (in place) around the segment's face, in the colour of what the face says
        (the fused top emotion when the face has no reading of its own); lines drawn inside the box.
        """
        color = np.array(_hex_rgb(face_color(seg)), dtype=np.uint8)
        x0, y0, x1, y1 = box_pixels(seg.face_box, (self.width, self.height))
        n = min(self.line, (x1 - x0 + 1) // 2, (y1 - y0 + 1) // 2) or 1
        out[y0:y0 + n, x0:x1] = color
        out[y1 - n:y1, x0:x1] = color
        out[y0:y1, x0:x0 + n] = color
        out[y0:y1, x1 - n:x1] = color

    def _render(self, seg: SegmentResult) -> tuple[np.ndarray, np.ndarray]:
        """Box of shape (box_h, width, 3) as float RGB and its (box_h, width, 1) opacity."""
        from PIL import Image, ImageDraw

        from mmsent.plots import EMOTION_COLORS, FALLBACK_COLOR  # the figures' colours

        pad = max(2, self.font.size // 3)
        words = "no speech" if seg.kind == "gap" else " ".join(seg.text.split())
        lines = _wrap(words, self.font, self.width - 2 * pad) if words else []
        line_h = self.font.size + pad
        box_h = min(self.height, line_h * (len(lines) + 1) + pad)
        img = Image.new("RGBA", (self.width, box_h), (0, 0, 0, round(255 * BOX_OPACITY)))
        draw = ImageDraw.Draw(img)
        for k, line in enumerate(lines):
            draw.text((pad, pad + k * line_h), line, font=self.font, fill=(255, 255, 255, 255))
        color = EMOTION_COLORS.get(seg.top_emotion[0], FALLBACK_COLOR)
        draw.text((pad, pad + len(lines) * line_h), label_line(seg), font=self.font, fill=color)
        arr = np.asarray(img, dtype=np.float32)
        return arr[..., :3], arr[..., 3:] / 255.0


def box_pixels(box: list[float], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """A face box in fractions of the frame as pixel bounds ``x0, y0, x1, y1`` (x1, y1 exclusive),
    at least one pixel wide and high, inside a frame of ``size`` (width, height)."""
    w, h = size
    x0 = min(w - 1, max(0, round(box[0] * w)))
    y0 = min(h - 1, max(0, round(box[1] * h)))
    return x0, y0, max(x0 + 1, min(w, round(box[2] * w))), max(y0 + 1, min(h, round(box[3] * h)))


def face_color(seg: SegmentResult) -> str:
    """Colour of the face box: the face's own top emotion, else the fused one (hex, as in plots)."""
    from mmsent.plots import EMOTION_COLORS, FALLBACK_COLOR

    face = seg.reading("video")
    return EMOTION_COLORS.get((face or seg.top_emotion)[0], FALLBACK_COLOR)


def _hex_rgb(color: str) -> tuple[int, int, int]:
    return tuple(int(color.lstrip("#")[k:k + 2], 16) for k in (0, 2, 4))


def _wrap(text: str, font, max_px: int) -> list[str]:
    """Greedy word wrap to ``max_px`` pixels, at most MAX_CAPTION_LINES lines (then '…')."""
    lines, line = [], ""
    for word in text.split(" "):
        trial = f"{line} {word}" if line else word
        if line and font.getlength(trial) > max_px:
            lines.append(line)
            line = word
        else:
            line = trial
    lines.append(line)
    if len(lines) > MAX_CAPTION_LINES:
        last = lines[MAX_CAPTION_LINES - 1]
        while last and font.getlength(last + " …") > max_px:
            last = last[:-1]
        lines = lines[: MAX_CAPTION_LINES - 1] + [last.rstrip() + " …"]
    return lines


def _html_page(analysis: Analysis, figure_divs: list[str]) -> str:
    media, summary = analysis.media, analysis.summary()
    name = html.escape(Path(media.path).name)
    facts = [
        f"{media.duration:.1f} s", f"{len(analysis.segments)} segments",
        f"language: {analysis.language or 'unknown'}",
        f"transcript: {analysis.transcript_source or 'none'}",
        f"model: {analysis.model.get('name', 'unnamed')}",
    ]
    if summary.dominant_emotion is not None:
        facts.append(f"dominant emotion: {summary.dominant_emotion}")
        facts.append(f"mean sentiment: {summary.mean_sentiment:+.2f}")
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in analysis.notes)
    cells = ([f"{timestamp(s.start, '.')}–{timestamp(s.end, '.')}", s.kind, s.text,
              f"{s.top_emotion[0]} {s.top_emotion[1]:.2f}", f"{s.top_sentiment[0]} {s.top_sentiment[1]:.2f}",
              "+".join(s.modalities), s.readings_text()] for s in analysis.segments)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in cells)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>mmsent: {name}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}
table{{border-collapse:collapse;font-size:90%}}
td,th{{border:1px solid #ccc;padding:3px 6px;vertical-align:top}}
.facts{{color:#555}}</style></head><body>
<h1>mmsent: {name}</h1>
<p class="facts">{html.escape(" · ".join(facts))}</p>
{"<h2>Notes</h2><ul>" + notes + "</ul>" if notes else ""}
{"".join(f'<div class="figure">{d}</div>' for d in figure_divs)}
<h2>Segments</h2>
<table><thead><tr><th>time</th><th>kind</th><th>words</th><th>emotion</th><th>sentiment</th>
<th>modalities</th><th>each sense says</th></tr></thead><tbody>{rows}</tbody></table>
<p class="facts">schema version {analysis.schema_version}</p>
</body></html>
"""
