"""The annotated video: the input video with each segment's words, top emotion and sentiment in a
caption box (at the bottom, at the top where it would cover the face), and a rectangle around the
segment's face in the colour of what the face says.

``mmsent.export.write(..., ["mp4"])`` calls it; it works from an Analysis and the input video.
"""

from __future__ import annotations

import bisect
import itertools
import os
import re
import subprocess
import tempfile
import unicodedata
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mmsent import fonts
from mmsent.probe import _audio_stream, _display_size, _origin
from mmsent.results import (FILE_MODE, Analysis, SegmentResult, characters, checked_writer, remove_leftovers,
                            temporary_prefix)

VIDEO_PRESET = "veryfast"  # x264 speed/size trade-off of the annotated video
FONT_FRACTION = 0.045  # caption font size as a fraction of the frame height
MIN_FONT_PX = 12  # smallest caption font, pixels
MAX_CAPTION_LINES = 2  # lines of words in a caption box (plus the label line)
DURATION_TOLERANCE_S = 1.0  # warn when the video and the analysis differ in length by more
BOX_OPACITY = 0.6  # opacity of the caption box's black background
FACE_LINE_FRACTION = 0.015  # face rectangle line width as a fraction of the frame's smaller side
MIN_FACE_LINE_PX = 3  # thinnest face rectangle line, pixels (thinner lines lose their colour in H.264)
NOTHING_READ_COLOR = "#bdbdbd"  # "nothing read": light grey, legible on the dark caption box
LATE_SOUND_S = 0.02  # s: a sound track that starts this much after the picture is copied with its delay as silence

# moviepy warns for each frame it reads past the end of the picture (the sound lasts longer) and shows the
# last one, as wanted: its warnings say nothing a user can act on
warnings.filterwarnings("ignore", message=r"In file .* bytes wanted but 0 bytes read", category=UserWarning)


def label_line(seg: SegmentResult) -> str:
    """'joy 0.71 · positive sentiment', the top emotion with its probability and the top sentiment
    ('nothing read' where no sense was read)."""
    if not seg.read:
        return "nothing read"
    emo, p = seg.top_emotion
    return f"{emo} {p:.2f} · {seg.top_sentiment[0]} sentiment"


@checked_writer
def write_video(analysis: Analysis, video_path: str | os.PathLike, out_path: str | os.PathLike,
                progress: Callable[[int, int], None] | None = None) -> Path:
    """The input video with each segment's words, top emotion and sentiment drawn on it (H.264).
    ``progress(frames written, frames in all)`` follows the drawing (a call each percent).

    Raises:
        ValueError: the analysis would not load back (``Analysis.check``, naming the field), checked before the
            video is read; or the input has no video stream (nothing to draw on).
        FileNotFoundError: the input video does not exist.
    """
    video_path, out_path = Path(video_path), Path(out_path)
    size, remux, sound = _picture_facts(video_path, analysis.media.audio_track)
    from moviepy import VideoFileClip  # heavy; only the annotated video needs it

    # moviepy's ffmpeg writers are not closed when writing is interrupted (Ctrl-C): they can still
    # create their output files afterwards. Writing inside a hidden folder that is removed on failure
    # leaves them nowhere to write, so no stray file is left beside the exports.
    remove_leftovers(out_path)
    with tempfile.TemporaryDirectory(prefix=temporary_prefix(out_path), dir=out_path.parent,
                                     ignore_cleanup_errors=True) as work:
        source = _remuxed(video_path, Path(work), sound) if remux or sound else video_path
        # moviepy 2.2 misses the rotation that ffmpeg >= 7 reports as side data, then squashes the
        # upright picture into the stored size, and it reads pixels that are shown wider as square (a DV camera's,
        # an anamorphic DVD's: the faces half as wide): ask for the displayed size instead
        with VideoFileClip(str(source), target_resolution=size) as clip:
            if abs(clip.duration - analysis.media.duration) > DURATION_TOLERANCE_S:
                warnings.warn(f"{video_path} lasts {clip.duration:.1f} s but the analysis covers "
                              f"{analysis.media.duration:.1f} s: is it the analysed video?", stacklevel=2)
            painter = _OverlayPainter(analysis.segments, tuple(clip.size), analysis.language)
            annotated = clip.transform(lambda get_frame, t: painter.paint(get_frame(t), t))
            tmp = Path(work) / out_path.name
            annotated.write_videofile(str(tmp), codec="libx264", audio_codec="aac",
                                      logger=_frame_logger(progress) if progress else None,
                                      preset=VIDEO_PRESET, temp_audiofile=str(Path(work) / "sound.m4a"))
            os.chmod(tmp, FILE_MODE)
            os.replace(tmp, out_path)
    return out_path


def _frame_logger(report: Callable[[int, int], None]):
    """A moviepy logger that reports its frames written as ``report(done, total)``, each percent."""
    import proglog  # moviepy's own progress library

    class FrameLogger(proglog.ProgressBarLogger):
        last = -1

        def bars_callback(self, bar, attr, value, old_value=None):
            total = self.bars[bar].get("total") or 0
            if bar == "frame_index" and attr == "index" and total and (value - self.last >= total / 100 or
                                                                        value >= total):
                self.last = value
                report(min(int(value), total), total)

    return FrameLogger()


def _picture_facts(video_path: Path, track: int | str | None = None
                   ) -> tuple[tuple[int, int], bool, list[str] | None]:
    """(width, height) of the first picture as shown (rotated, its pixels as wide as they are shown), whether moviepy
    2.2 can't read the file as it is (it has chapters, or no duration in its header, as a browser's recording:
    ``_remuxed`` gives it one), and the ffmpeg arguments that copy the analysed audio track
    (``probe._audio_stream``: the one chosen, ``track``, the analysis's ``media.audio_track``; else the one a player
    plays) where moviepy would not play it as analysed, else None: the file has other audio tracks (the track
    copied), or the track starts after the picture (moviepy's ffmpeg drops that delay: the track as PCM, its delay
    turned into leading silence); errors if there is no picture to draw on."""
    if not video_path.is_file():
        raise FileNotFoundError(f"cannot annotate {video_path}: no such file")
    import av

    try:
        with av.open(str(video_path)) as container:
            if not container.streams.video:
                raise ValueError(f"cannot annotate {video_path}: it has no video stream to draw on; "
                                 "export json, csv, srt, vtt or html instead")
            frame, video = next(container.decode(video=0)), container.streams.video[0]
            remux = bool(container.chapters()) or container.duration is None
            stream, sound = _audio_stream(container, track), None
            if stream is not None:
                late = float((stream.start_time or 0) * stream.time_base) - _origin(container) > LATE_SOUND_S
                if late:
                    sound = ["-map", f"0:{stream.index}", "-c:a", "pcm_s16le", "-af", "aresample=async=1:first_pts=0"]
                elif len(container.streams.audio) > 1:
                    sound = ["-map", f"0:{stream.index}", "-c:a", "copy"]
    except (av.error.FFmpegError, StopIteration) as e:
        raise ValueError(f"cannot annotate {video_path}: its video does not decode ({e!r})") from e
    return _display_size(frame, video), remux, sound


def _remuxed(video_path: Path, folder: Path, sound: list[str] | None = None) -> Path:
    """A copy of the video that moviepy 2.2 reads as the analysis did, in Matroska (any codec, rotation
    kept): its first picture stream (packets copied), without chapters (moviepy's reading of ``ffmpeg -i``
    fails on a file with a single chapter: Zulko/moviepy#2419, editor exports, the MELD clips), with its duration
    in the header (moviepy fails on "Duration: N/A": a WebM that a browser recorded to a stream), and its
    first sound stream copied, or the analysed one as ``sound`` says (``_picture_facts``)."""
    from imageio_ffmpeg import get_ffmpeg_exe  # the ffmpeg moviepy runs

    out = folder / "source.mkv"
    sound = sound or ["-map", "0:a:0?", "-c:a", "copy"]
    done = subprocess.run([get_ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(video_path), "-map", "0:v:0",
                           *sound, "-map_chapters", "-1", "-c:v", "copy", str(out)],
                          capture_output=True, text=True)
    if done.returncode:
        raise ValueError(f"cannot annotate {video_path}: its streams could not be copied for drawing "
                         f"({done.stderr.strip()[-300:]})")
    return out


class _OverlayPainter:
    """Draws, on each frame, a caption box for the segment playing at that time.

    Frames are uint8 arrays of shape (height, width, 3); a box is rendered once per segment.
    """

    def __init__(self, segments: list[SegmentResult], size: tuple[int, int], language: str | None = None):
        from PIL import ImageFont, features

        self.segments, (self.width, self.height) = segments, size
        self.starts = [s.start for s in segments]
        self.px, self.language = max(MIN_FONT_PX, round(self.height * FONT_FRACTION)), language
        faces = fonts.faces(language)
        if not faces:
            warnings.warn("no TrueType font found: captions use Pillow's default", stacklevel=3)
        self.loaded: dict[fonts.Face, ImageFont.FreeTypeFont] = {}  # the faces drawn, at px
        self.font = self._font(faces[0]) if faces else ImageFont.load_default(self.px)  # the label line's
        undrawn: set[str] = set()  # why some words cannot be drawn
        self.words = [self._words(seg, undrawn) for seg in segments]
        for why in sorted(undrawn):
            warnings.warn(f"the annotated video cannot draw the words in {why}; those captions show the "
                          "English translation where there is one, else the emotion alone", stacklevel=3)
        if not features.check("raqm") and any(map(_laid_out, (w for w, _ in self.words))):
            warnings.warn("Pillow's text layout lacks libraqm's FriBiDi: right-to-left words (Arabic, Hebrew) are drawn "
                          "in the wrong order and letters unjoined (on Debian or Ubuntu: apt-get install libfribidi0)",
                          stacklevel=3)
        self.line = max(MIN_FACE_LINE_PX, round(min(size) * FACE_LINE_FRACTION))
        self.cache: dict[int, tuple] = {}  # the segment playing -> what _render draws of it

    def _font(self, face: fonts.Face):
        from PIL import ImageFont

        if face not in self.loaded:
            self.loaded[face] = ImageFont.truetype(face[0], self.px, index=face[1])
        return self.loaded[face]

    def _words(self, seg: SegmentResult, undrawn: set[str]) -> tuple[str, object]:
        """A segment's caption words and the font that has their glyphs: the words as said (after who says them,
        where known), else their English translation, else none (and why, added to ``undrawn``)."""
        named = f"\u2068{seg.speaker}\u2069: " if seg.speaker else ""  # the name in its own direction (an isolate)
        words = "no speech" if seg.kind == "gap" else named + seg.text
        fitted = fonts.fit(words, self.language)
        if fitted is None:
            undrawn.add(fonts.missing(words, self.language))
            fitted = fonts.fit(f"in English: {seg.translation}" if seg.translation else "", self.language)
        return (" ".join(fitted[1].split()), self._font(fitted[0])) if fitted else ("", self.font)

    def paint(self, frame: np.ndarray, t: float) -> np.ndarray:
        i = bisect.bisect_right(self.starts, t) - 1
        if i < 0 or t > self.segments[i].end:
            return frame
        if i not in self.cache:  # frames come in time order: only the segment playing is kept (a box is 2 MB
            self.cache = {i: self._render(i)}  # at 720p: all of an hour's 1,500 segments held 3 GB)
        rgb, alpha, rows, box = self.cache[i]
        out = frame.copy()
        if box is not None:  # the face's rectangle, its lines drawn inside it
            (x0, y0, x1, y1), n, color = box
            out[y0:y0 + n, x0:x1] = color
            out[y1 - n:y1, x0:x1] = color
            out[y0:y1, x0:x0 + n] = color
            out[y0:y1, x1 - n:x1] = color
        out[rows] = (out[rows].astype(np.float32) * (1.0 - alpha) + rgb * alpha).round().astype(np.uint8)
        return out

    def _caption_rows(self, seg: SegmentResult, box_h: int) -> slice:
        """The caption's rows: at the bottom, or at the top where the bottom would cover more of the
        segment's face (a face low in the picture keeps its mouth and chin in sight)."""
        bottom = slice(self.height - box_h, self.height)
        if not seg.face_box:
            return bottom
        _, y0, _, y1 = box_pixels(seg.face_box, (self.width, self.height))
        covered_at_bottom, covered_at_top = max(0, y1 - bottom.start), max(0, box_h - y0)
        return slice(0, box_h) if covered_at_top < covered_at_bottom else bottom

    def _face_box(self, seg: SegmentResult) -> tuple | None:
        """The rectangle around the segment's face: its pixel bounds, line width and colour, that of what
        the face says (the fused top emotion when the face has no reading of its own); None without a face."""
        from mmsent.plots import hex_rgb

        if not seg.face_box:
            return None
        x0, y0, x1, y1 = box_pixels(seg.face_box, (self.width, self.height))
        n = min(self.line, (x1 - x0 + 1) // 2, (y1 - y0 + 1) // 2) or 1
        return (x0, y0, x1, y1), n, np.array(hex_rgb(face_color(seg)), dtype=np.uint8)

    def _labels(self, seg: SegmentResult, pad: int) -> list[str]:
        """The lines of a segment's label line (``label_line``): shorter ("sentiment" left out) where it does not fit
        a narrow picture (a phone's, upright; a small webcam's), then wrapped."""
        label, room = label_line(seg), self.width - 2 * pad
        if self.font.getlength(label) > room:
            label = label.removesuffix(" sentiment")
        return _wrap(label, self.font, room)

    def _render(self, i: int) -> tuple:
        """What segment i's frames get, once per segment: its caption box, (box_h, width, 3) float RGB and
        its (box_h, width, 1) opacity, the rows it goes to (``_caption_rows``) and its face's rectangle.
        Right-to-left words (Arabic, Hebrew) are aligned on the right."""
        from PIL import Image, ImageDraw

        from mmsent.plots import EMOTION_COLORS, FALLBACK_COLOR  # the figures' colours

        seg, (words, font) = self.segments[i], self.words[i]
        pad = max(2, self.font.size // 3)
        lines = _wrap(words, font, self.width - 2 * pad) if words else []
        labels = self._labels(seg, pad)
        line_h = self.font.size + pad
        box_h = min(self.height, line_h * (len(lines) + len(labels)) + pad)
        img = Image.new("RGBA", (self.width, box_h), (0, 0, 0, round(255 * BOX_OPACITY)))
        draw = ImageDraw.Draw(img)
        x, anchor = (self.width - pad, "ra") if _right_to_left(words) else (pad, "la")
        for k, line in enumerate(lines):
            draw.text((x, pad + k * line_h), line, font=font, anchor=anchor, fill=(255, 255, 255, 255))
        color = EMOTION_COLORS.get(seg.top_emotion[0], FALLBACK_COLOR) if seg.read else NOTHING_READ_COLOR
        for k, line in enumerate(labels, len(lines)):
            draw.text((pad, pad + k * line_h), line, font=self.font, fill=color)
        arr = np.asarray(img, dtype=np.float32)
        return arr[..., :3], arr[..., 3:] / 255.0, self._caption_rows(seg, box_h), self._face_box(seg)


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


_ISOLATED = re.compile("[\u2066-\u2068][^\u2066-\u2069]*\u2069")  # an isolate's text (not nested)


def _laid_out(text: str) -> bool:
    """Whether a text needs a layout engine to be drawn right: right-to-left letters, or marks joined to letters
    (Arabic, Hebrew, Hindi, Thai)."""
    return any(unicodedata.bidirectional(c) in ("R", "AL") or unicodedata.category(c)[0] == "M" for c in text)


def _right_to_left(text: str) -> bool:
    """Whether a text reads from right to left: its first letter with a direction is Hebrew, Arabic, ..., past
    what isolates hold (a speaker's name, between U+2068 and U+2069), as Unicode's bidirectional algorithm reads
    a paragraph's direction."""
    strong = (d for d in map(unicodedata.bidirectional, _ISOLATED.sub("", text)) if d in ("L", "R", "AL"))
    return next(strong, "L") != "L"


def _wrap(text: str, font, max_px: int) -> list[str]:
    """Greedy wrap to ``max_px`` pixels at spaces, and between characters within a word too long for a line
    (Chinese and Japanese write no spaces); at most MAX_CAPTION_LINES lines (then '…')."""
    lines, line = [], ""
    for word in text.split(" "):
        trial = f"{line} {word}" if line else word
        if line and font.getlength(trial) > max_px and font.getlength(word) <= max_px:
            lines.append(line)
            trial = word
        while font.getlength(trial) > max_px:  # a word too long for a line: cut between its characters
            cut = _fitting(trial, font, max_px)
            lines.append(trial[:cut].rstrip())
            trial = trial[cut:].lstrip()
        line = trial
    lines.append(line)
    if len(lines) > MAX_CAPTION_LINES:
        last = lines[MAX_CAPTION_LINES - 1]
        last = last[:_fitting(last, font, max_px - font.getlength(" …"))]
        lines = lines[: MAX_CAPTION_LINES - 1] + [last.rstrip() + " …"]
    return lines


def _fitting(text: str, font, max_px: int) -> int:
    """How many of the first code points of ``text`` fit in ``max_px`` pixels, cut between characters as people
    see them (``results.characters``: a letter keeps its marks, the vowel signs of Hindi or Thai, and an Indic
    conjunct stays whole); at least one character."""
    ends = list(itertools.accumulate(map(len, characters(text)))) or [0]
    return ends[max(1, bisect.bisect_right(ends, max_px, key=lambda n: font.getlength(text[:n]))) - 1]
