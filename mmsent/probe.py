"""Probe any audio or video file: what it holds (streams, duration, size, rotation), decoding at most its first picture.

PyAV (FFmpeg libraries inside its wheel) reads the file. ``_open`` is also the one way ``media``
opens a file for decoding, so its checks and messages are the same everywhere. Importing
torchvision turns PyAV's Python log callback on; a threaded decoder logging while its codec is
freed then waits for the GIL held by the freeing thread (a deadlock, seen with VP9), so ``_open``
turns PyAV's logging back off, its default.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import av.logging
from av.sidedata.sidedata import Type

from mmsent.results import shown

log = logging.getLogger(__name__)

DISPLAY_MATRIX = Type.DISPLAYMATRIX  # a frame's side data that says how it is turned and mirrored for display
FIRST_FRAME_MAX_PACKETS = 300  # packets tried to get the first picture when probing
IMAGE_DEMUXERS = ("image2",)  # FFmpeg's still-image readers, besides every "*_pipe" one (png_pipe, jpeg_pipe, ...)


class MediaError(ValueError):
    """A file that cannot be used as media: the message names the file, the problem and the fix."""


@dataclass
class MediaInfo:
    """What ``probe`` learns about a file without decoding more than its first picture."""

    path: str
    duration: float  # s, from the header, or by reading the packets when the header has none
    has_audio: bool
    has_video: bool  # False for audio-only files, including mp3 files whose only picture is cover art
    width: int | None  # display width in pixels, after rotation and sample aspect ratio
    height: int | None  # display height in pixels, after rotation
    fps: float | None  # average frame rate (frames/s); variable-frame-rate files give their mean
    rotation: int  # degrees clockwise that the stored picture is turned for display: 0, 90, 180, 270
    audio_channels: int | None  # as the header says (the decoded data may disagree; load_audio copes)
    audio_rate: int | None  # Hz, as the header says
    video_codec: str | None
    audio_codec: str | None
    container: str | None  # demuxer name(s), e.g. "mov,mp4,m4a,3gp,3g2,mj2" or "matroska,webm"
    audio_tracks: int = 0  # how many audio tracks the file has
    audio_track: str | None = None  # the one analysed, e.g. 'track 2 (eng)'
    audio_chosen: int | str | None = None  # the track asked for (AnalysisOptions.audio_track); None: a player's
    audio_alike: tuple[str, ...] = ()  # the other tracks in the language asked for, named (not analysed)
    picture_lost: bool = False  # a video stream without a decodable picture beside a sound (has_video False)


# Containers the decoder (PyAV's FFmpeg) reads, by name: a folder's files analysed (the command line), a corpus's read.
LOSSLESS_SUFFIXES = {".wav", ".flac", ".aif", ".aiff", ".wv", ".ape", ".caf", ".au", ".snd"}  # .snd: .au's other name
AUDIO_SUFFIXES = LOSSLESS_SUFFIXES | {".mp3", ".m4a", ".m4b", ".aac", ".ogg", ".oga", ".opus", ".spx", ".wma",
                                      ".mka", ".amr", ".mp2", ".ac3", ".dts"}
VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".divx", ".flv", ".f4v", ".mpg", ".mpeg",
                  ".vob", ".ts", ".mts", ".m2ts", ".3gp", ".3g2", ".wmv", ".asf", ".ogv", ".mxf"}
MEDIA_SUFFIXES = AUDIO_SUFFIXES | VIDEO_SUFFIXES
NOT_A_STREAM = ("mmsent reads a file, not a stream (standard input, a pipe: it seeks in the file, and reads the sound "
                "and the picture apart): save the stream to a file first (... > clip.mp4), then give the file's path.")


def local_path(path: str | Path) -> Path:
    """``path`` as a Path; MediaError where it is empty (``Path`` would make "" the current folder) or a web
    address (``Path`` would make "https://x" "https:/x"), or whose name is not UTF-8."""
    if isinstance(path, str) and not path.strip():
        raise MediaError("no file given: the path is empty; give the path of an audio or video file.")
    if re.match(r"[a-z][a-z0-9+.-]+://", str(path), re.IGNORECASE) and not Path(path).exists():
        raise MediaError(f"{path}: is a web address; mmsent reads files: download the video or sound first, then "
                         "give the file's path.")
    if str(path) == "-" and not Path(path).exists():
        raise MediaError(f"-: {NOT_A_STREAM}")
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:  # its results (JSON, CSV) could not name it
        raise MediaError(f"{shown(path)}: its name is not UTF-8 (an older system's encoding): rename the file, "
                         "e.g. with convmv, and give its new name.") from None
    return Path(path)


def _open(path: str | Path) -> av.container.InputContainer:
    p = local_path(path)
    try:
        if not p.exists():  # a shell passes a pattern that matches nothing as it is
            raise MediaError(f"{p}: no file matches this pattern; check the folder and the pattern." if "*" in p.name
                             or "?" in p.name else f"{p}: file not found; check the path.")
        if p.is_dir():
            raise MediaError(f"{p}: is a folder; give the audio or video files in it.")
        if not p.is_file():
            raise MediaError(f"{p}: is not a regular file (a pipe or a device); {NOT_A_STREAM}")
        if p.stat().st_size == 0:
            raise MediaError(f"{p}: the file is empty (0 bytes); the upload or copy failed: provide the file again.")
    except OSError as e:  # a name too long for the file system, a folder that can't be read: not a MediaError
        raise MediaError(f"{p}: can't be opened ({e.strerror or e}); check the path.") from e
    if av.logging.get_level() is not None:  # see the module docstring: avoids a deadlock
        log.debug("PyAV logging was on (level %s, set by torchvision's import); turning it off", av.logging.get_level())
        av.logging.set_level(None)
    try:
        return av.open(str(p), metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError) as e:
        raise MediaError(
            f"{p}: cannot be read as audio or video ({reason(e)}); it is truncated, damaged or not a media file: "
            "re-export or re-download it."
        ) from e


def reason(e: Exception) -> str:
    """What FFmpeg said, without PyAV's "[Errno 1094995529]" and the path the message already names."""
    return getattr(e, "strerror", None) or str(e)


def _video_stream(c: av.container.InputContainer) -> av.VideoStream | None:
    """The first video stream that is a real picture track (not an mp3's cover art)."""
    for s in c.streams.video:
        if not s.disposition & av.stream.Disposition.attached_pic:
            return s
    return None


def _audio_stream(c: av.container.InputContainer, track: int | str | None = None) -> av.AudioStream | None:
    """The audio track ``track`` names (``AnalysisOptions.audio_track``: its number among the audio tracks, or its
    language), else, for None, the one a player plays: the first one flagged default, else the first one (as
    FFmpeg's ``av_find_best_stream`` and the annotated video's ffmpeg prefer a default track). Of several tracks in
    the language asked for, the one a player plays of them. None where the file has no audio track; MediaError
    where it has some, and none is the one asked for."""
    streams = list(c.streams.audio)
    if track is not None and streams:
        streams = _alike(streams, track)
        if not streams:
            raise MediaError(_no_such_track(c, track))
    default = [s for s in streams if s.disposition & av.stream.Disposition.default]
    return (default or streams or [None])[0]


def _alike(streams: list[av.AudioStream], track: int | str) -> list[av.AudioStream]:
    """The audio ``streams`` that ``track`` names: the one of that number (1: the first), or those tagged with
    that language, however it is written (ISO 639-2 ``ger`` or ``deu``, ISO 639-1 ``de``: one language)."""
    if isinstance(track, int):
        return streams[track - 1:track]
    from .subtitles import language_code  # the one table of language codes (subtitles' tags name them too)

    def code(tag: str) -> str:
        return language_code(tag) or tag.strip().lower()

    return [s for s in streams if s.metadata.get("language") and code(s.metadata["language"]) == code(track)]


def _no_such_track(c: av.container.InputContainer, track: int | str) -> str:
    """'talk.mkv: has 2 audio tracks: track 1 (deu, default), track 2 (eng); the audio track asked for, 3, ...'"""
    from .config import AUDIO_TRACK_OPTION
    from .results import counted  # here: an error's words, which probing a file does not need

    tracks = list(c.streams.audio)
    several = len(tracks) > 1
    named = ", ".join(_track_name(s, several and s.disposition & av.stream.Disposition.default) for s in tracks)
    fix = (f"none of them: choose one by its number (1 to {len(tracks)}) or by the language it is tagged with"
           if several else "not it: choose 1, or leave the choice out")
    return (f"{c.name}: has {counted(len(tracks), 'audio track')}: {named}; the audio track asked for, {track!r}, "
            f"is {fix} ({AUDIO_TRACK_OPTION}).")


def _track_name(s: av.AudioStream, default: bool = False) -> str:
    """'track 2 (eng, Commentary)': the audio track's number among the audio tracks, language and title (and
    'default' where ``default``)."""
    what = [v for v in (s.metadata.get("language"), s.metadata.get("title")) if v and v != "und"]
    what += ["default"] if default else []
    return f"track {list(s.container.streams.audio).index(s) + 1}" + (f" ({', '.join(what)})" if what else "")


def _origin(c: av.container.InputContainer) -> float:
    """Time (s) of the start of the file, subtracted from every timestamp."""
    return c.start_time / av.time_base if c.start_time is not None else 0.0


def _header_duration(c: av.container.InputContainer) -> float | None:
    """The file's length from its header, or None where the header does not tell it: none there, or a Matroska or
    WebM file that starts later than 0 (FFmpeg writes its Duration as the time of its end, other writers its length:
    the packets tell)."""
    if c.duration and "matroska" in c.format.name and _origin(c) > 0:
        return None
    if c.duration:
        return c.duration / av.time_base
    ends = [float(s.duration * s.time_base) for s in c.streams if s.duration and s.time_base]
    return max(ends) if ends else None


def _scan_duration(path: str | Path) -> float:
    """Duration (s) found by reading every packet: for files whose header has none (browser WebM)."""
    with _open(path) as c:
        origin, end = _origin(c), 0.0
        for packet in c.demux():
            if packet.pts is not None and packet.time_base is not None:
                dur = packet.duration or 0
                end = max(end, float((packet.pts + dur) * packet.time_base) - origin)
    return end


def _orientation(frame: av.VideoFrame) -> tuple[int, bool]:
    """(clockwise rotation in degrees, mirrored) of the frame as shown: its display matrix, as FFmpeg's players turn
    it (checked against ``ffmpeg``'s autorotation for each rotation, mirrored or not). A mirrored picture (a front
    camera's, ``-display_hflip``) is turned back left to right first; PyAV's ``frame.rotation`` read it as upside
    down, and no face was found."""
    matrix = next((bytes(s) for s in frame.side_data if s.type == DISPLAY_MATRIX), None)
    if matrix is None:
        return 0, False
    a, b, _, c, d = struct.unpack("=5i", matrix[:20])  # its first two rows, 16.16 fixed point
    mirrored = a * d - b * c < 0
    if mirrored:
        a, b = -a, -b
    return round(math.degrees(math.atan2(b, a)) / 90) % 4 * 90, mirrored


def _display_size(frame: av.VideoFrame, stream: av.VideoStream) -> tuple[int, int]:
    """(width, height) of ``stream``'s ``frame`` as a player shows it: its pixels as wide as the stream says (a DV
    camera's, an anamorphic DVD's are wider than high), turned as its display matrix says (``_orientation``)."""
    ratio = float(stream.sample_aspect_ratio) if stream.sample_aspect_ratio else 1.0
    width, height = max(1, round(frame.width * ratio)), frame.height
    return (height, width) if _orientation(frame)[0] in (90, 270) else (width, height)


def probe(path: str | Path, audio_track: int | str | None = None) -> MediaInfo:
    """Read the header and the first picture of ``path``; its sound is the audio track ``audio_track`` names
    (``AnalysisOptions.audio_track``; None: the one a player plays).

    Raises MediaError for a missing, empty, truncated or non-media file, or one with neither
    an audio nor a video stream, or a picture that can't be decoded and no sound, or audio tracks none of which is
    ``audio_track`` (a file without sound is read without, as with None). A sound beside a picture
    that can't be decoded (a damaged stream, a codec FFmpeg lacks) is read alone: ``has_video`` False,
    ``picture_lost`` True.
    """
    with _open(path) as c:
        video, audio = _video_stream(c), _audio_stream(c, audio_track)
        if video is None and audio is None:
            raise MediaError(f"{path}: has neither an audio nor a video stream; give an audio or video file.")
        if audio is None and (c.format.name in IMAGE_DEMUXERS or c.format.name.endswith("_pipe")):
            raise MediaError(f"{path}: is a still image ({video.codec_context.name}), not a video; "
                             "give a video or audio file.")
        duration = _header_duration(c)
        info = MediaInfo(
            path=str(path), duration=0.0, has_audio=audio is not None, has_video=video is not None,
            width=None, height=None, fps=None, rotation=0,
            audio_channels=audio.codec_context.channels if audio else None,
            audio_rate=audio.codec_context.sample_rate if audio else None,
            video_codec=video.codec_context.name if video else None,
            audio_codec=audio.codec_context.name if audio else None,
            container=c.format.name,
            audio_tracks=len(c.streams.audio), audio_track=_track_name(audio) if audio else None,
            audio_chosen=audio_track,
            audio_alike=tuple(_track_name(s) for s in _alike(list(c.streams.audio), audio_track) if s is not audio)
            if isinstance(audio_track, str) else (),
        )
        if video is not None:
            rate = video.average_rate or video.guessed_rate
            info.fps = float(rate) if rate else None
            packets = itertools.islice(c.demux(video), FIRST_FRAME_MAX_PACKETS)
            frame = next(_decode(itertools.chain(packets, [None]), lambda packet: True, video), None)
            if frame is None and audio is None:
                raise MediaError(f"{path}: its video stream has no decodable picture; the file is damaged "
                                 "or truncated: re-export it.")
            if frame is None:  # its sound is still read: the picture alone is lost (pipeline's notes say so)
                info.has_video, info.picture_lost = False, True
            else:
                info.rotation = _orientation(frame)[0]
                info.width, info.height = _display_size(frame, video)
    info.duration = duration if duration else _scan_duration(path)
    return info


def _decode(packets: Iterable[av.Packet | None], keep, stream: av.VideoStream | None = None,
            lost: Callable[[av.Packet], None] | None = None) -> Iterator[av.VideoFrame]:
    """Frames of the packets that ``keep`` accepts; None flushes the decoder; damaged packets are skipped
    (and given to ``lost``)."""
    for packet in packets:
        try:
            if packet is None:
                yield from stream.decode(None)
            elif keep(packet):
                yield from packet.decode()
        except av.FFmpegError as e:
            log.debug("skipped an undecodable video packet: %s", e)
            if lost is not None and packet is not None:
                lost(packet)
