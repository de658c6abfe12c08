"""Probe and decode any audio or video file: the whole audio track once, frames for many spans in one pass.

Decoding uses PyAV, whose wheel ships its own FFmpeg libraries (no system ffmpeg needed). Times are in
seconds from the start of the file (the container's start time), for audio and video alike.

``load_frames`` reads the video once, front to back, for all spans together. It never converts a
frame that no span needs, and it does not even decode a keyframe interval (GOP) that holds no
sampled time: packets are buffered (compressed) from one keyframe to the next and only handed to the
decoder when a sampled time falls inside. Only the frames actually sampled are scaled to the small
output size (in C, by swscale) and converted to RGB, so memory stays bounded on long videos.

Importing torchvision turns on PyAV's Python log callback (``av.logging.set_level(ERROR)``). A
threaded decoder that logs while its codec is freed then waits for the GIL that the freeing thread
holds: a deadlock (seen with VP9). ``_open`` therefore puts PyAV's logging back to its default, off.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import av
import av.logging
import numpy as np
from av.video.reformatter import VideoReformatter

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000  # Hz, rate of the audio returned by load_audio
GOP_BUFFER_MAX_BYTES = 32 * 2**20  # compressed bytes held at most while deciding to skip a GOP
COMPLETE_FRACTION = 0.9  # decoded length below this share of the header's duration: warn "truncated"
SKIP_LOOP_FILTER = True  # skip H.264/HEVC deblocking: ~1.4x faster; at 128 px frames differ by <1/255 on average
SCALE_INTERPOLATION = "AREA"  # swscale filter that shrinks frames to the output size (area averaging)
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


def _open(path: str | Path) -> av.container.InputContainer:
    p = Path(path)
    if not p.exists():
        raise MediaError(f"{p}: file not found; check the path.")
    if not p.is_file():
        raise MediaError(f"{p}: is not a regular file; give the path of an audio or video file.")
    if p.stat().st_size == 0:
        raise MediaError(f"{p}: the file is empty (0 bytes); the upload or copy failed: provide the file again.")
    if av.logging.get_level() is not None:  # see the module docstring: avoids a deadlock
        log.debug("PyAV logging was on (level %s, set by torchvision's import); turning it off", av.logging.get_level())
        av.logging.set_level(None)
    try:
        return av.open(str(p), metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError) as e:
        raise MediaError(
            f"{p}: cannot be read as audio or video ({e}); it is truncated, damaged or not a media file: "
            "re-export or re-download it."
        ) from e


def _video_stream(c: av.container.InputContainer) -> av.VideoStream | None:
    """The first video stream that is a real picture track (not an mp3's cover art)."""
    for s in c.streams.video:
        if not s.disposition & av.stream.Disposition.attached_pic:
            return s
    return None


def _audio_stream(c: av.container.InputContainer) -> av.AudioStream | None:
    return c.streams.audio[0] if c.streams.audio else None


def _origin(c: av.container.InputContainer) -> float:
    """Time (s) of the start of the file, subtracted from every timestamp."""
    return c.start_time / av.time_base if c.start_time is not None else 0.0


def _header_duration(c: av.container.InputContainer) -> float | None:
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


def _rotation(frame: av.VideoFrame) -> int:
    """Clockwise display rotation (deg) from the frame's display matrix (counter-clockwise there)."""
    return int(round(-frame.rotation / 90.0)) % 4 * 90


def _first_frame(c: av.container.InputContainer, s: av.VideoStream) -> av.VideoFrame | None:
    for i, packet in enumerate(c.demux(s)):
        if i >= FIRST_FRAME_MAX_PACKETS:
            break
        try:
            frames = packet.decode()
        except av.FFmpegError:
            continue
        if frames:
            return frames[0]
    return None


def _display_size(frame: av.VideoFrame, sar: float, rotation: int) -> tuple[int, int]:
    width, height = max(1, round(frame.width * sar)), frame.height
    return (height, width) if rotation in (90, 270) else (width, height)


def probe(path: str | Path) -> MediaInfo:
    """Read the header and the first picture of ``path``.

    Raises MediaError for a missing, empty, truncated or non-media file, or one with neither
    an audio nor a video stream.
    """
    with _open(path) as c:
        video, audio = _video_stream(c), _audio_stream(c)
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
        )
        if video is not None:
            rate = video.average_rate or video.guessed_rate
            info.fps = float(rate) if rate else None
            frame = _first_frame(c, video)
            if frame is None:
                raise MediaError(f"{path}: its video stream has no decodable picture; the file is damaged "
                                 "or truncated: re-export it.")
            info.rotation = _rotation(frame)
            sar = float(video.sample_aspect_ratio) if video.sample_aspect_ratio else 1.0
            info.width, info.height = _display_size(frame, sar, info.rotation)
    info.duration = duration if duration else _scan_duration(path)
    return info


def _warn_if_short(path: str | Path, got: float, expected: float | None, what: str) -> None:
    if expected and got < COMPLETE_FRACTION * expected - 0.5:
        warnings.warn(f"{path}: decoded only {got:.1f} s of {what} of the {expected:.1f} s that its header "
                      "announces; the file looks truncated, the rest is missing.", stacklevel=3)


class _MonoConverter:
    """Resamples audio frames to float32 mono; starts a new resampler whenever the input format changes."""

    def __init__(self, sample_rate: int):
        self.sample_rate, self.key, self.resampler = sample_rate, None, None

    def push(self, frame: av.AudioFrame | None) -> list[np.ndarray]:
        """Converted samples ready so far; ``None`` flushes what the resampler still holds."""
        key = None if frame is None else (frame.format.name, frame.layout.name, frame.sample_rate)
        out = []
        if self.resampler is not None and (frame is None or key != self.key):
            out = [f.to_ndarray().reshape(-1) for f in self.resampler.resample(None)]
            self.resampler = None
        if frame is not None:
            if self.resampler is None:
                self.resampler = av.AudioResampler(format="flt", layout="mono", rate=self.sample_rate)
                self.key = key
            out += [f.to_ndarray().reshape(-1) for f in self.resampler.resample(frame)]
        return out


def _decode_audio(c: av.container.InputContainer, stream: av.AudioStream,
                  sample_rate: int) -> tuple[float | None, list[np.ndarray]]:
    """(time of the first decoded sample or None, mono float32 chunks); damaged packets are skipped."""
    conv, first, chunks = _MonoConverter(sample_rate), None, []
    for packet in c.demux(stream):
        try:
            frames = packet.decode()
        except av.FFmpegError as e:
            log.debug("skipped an undecodable audio packet: %s", e)
            continue
        for frame in frames:
            if first is None:
                first = float(frame.pts * stream.time_base) if frame.pts is not None else 0.0
            chunks += conv.push(frame)
    return first, chunks + conv.push(None)


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray | None:
    """Decode the whole first audio track once: float32 mono at ``sample_rate`` Hz, shape (samples,).

    Sample 0 is the start of the file (a track that starts late is padded with silence). Any channel
    layout is downmixed, also when it changes inside the stream (a 5.1 track whose header says
    stereo). Returns None when the file has no audio stream.
    """
    with _open(path) as c:
        stream = _audio_stream(c)
        if stream is None:
            return None
        origin, expected = _origin(c), _header_duration(c)
        try:
            first, chunks = _decode_audio(c, stream, sample_rate)
        except av.FFmpegError as e:  # e.g. a channel layout the resampler cannot map
            raise MediaError(f"{path}: its audio cannot be converted to mono ({e}); re-export the file.") from e
    if first is None:
        raise MediaError(f"{path}: its audio stream holds no decodable sound; the file is damaged or truncated.")
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    offset = round((first - origin) * sample_rate)
    if offset > 0:
        audio = np.concatenate([np.zeros(offset, np.float32), audio])
    elif offset < 0:
        audio = audio[-offset:]
    bad = ~np.isfinite(audio)
    if bad.any():  # a float track can store NaN and infinity; every consumer downstream needs numbers
        warnings.warn(f"{path}: {bad.mean():.0%} of its audio samples are not numbers (NaN or infinite); "
                      "they are treated as silence.", stacklevel=2)
        audio[bad] = 0.0
    _warn_if_short(path, len(audio) / sample_rate, expected, "audio")
    return np.ascontiguousarray(audio, dtype=np.float32)


def sample_times(spans: list[tuple[float, float]], n: int) -> np.ndarray:
    """Times (s) of the ``n`` frames taken from each span: the centres of n equal parts. Shape (S, n)."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    arr = np.asarray(spans, dtype=np.float64).reshape(-1, 2)
    if not np.isfinite(arr).all():
        raise ValueError(f"spans must be finite (start, end) seconds, got {spans!r}")
    start, end = arr[:, :1], np.maximum(arr[:, 1:], arr[:, :1])
    return start + (end - start) * (np.arange(n) + 0.5) / n


class _FrameSampler:
    """Gives each sampled time the frame on screen then; keeps only small RGB copies of those frames."""

    def __init__(self, times: np.ndarray, short_side: int, sar: float, stream: av.VideoStream):
        self.order = np.argsort(times, kind="stable")
        self.times, self.i = times[self.order], 0
        self.short_side, self.sar = short_side, sar
        rate, self.time_base = stream.average_rate or stream.guessed_rate, stream.time_base
        self.step = 1.0 / float(rate) if rate else 0.04  # s, assumed between frames without timestamps
        self.prev, self.prev_t, self.frames_seen = None, None, 0
        self.out: np.ndarray | None = None  # (k, H, W, 3) uint8, in the callers' order of times
        self._rgb_of, self._rgb = None, None
        self._reformatter = VideoReformatter()  # keeps its scaling context from frame to frame

    @property
    def done(self) -> bool:
        return self.i >= len(self.times)

    @property
    def pending_time(self) -> float:
        return float(self.times[self.i]) if not self.done else float("inf")

    def shows_time(self, start: float, end: float) -> bool:
        """Whether a sampled time falls in [start, end)."""
        i = np.searchsorted(self.times, start)
        return bool(i < len(self.times) and self.times[i] < end)

    def push(self, frame: av.VideoFrame, origin: float) -> None:
        if frame.pts is not None:  # frames flushed at the end carry no time_base: use the stream's
            t = float(frame.pts * self.time_base) - origin
        else:
            t = self.prev_t + self.step if self.prev_t is not None else 0.0
        if self.out is None:
            self._setup(frame)
        while not self.done and self.times[self.i] < t:
            self._assign(self.prev if self.prev is not None else frame)
        self.prev, self.prev_t = frame, t
        self.frames_seen += 1

    def finish(self) -> np.ndarray:
        while not self.done:
            self._assign(self.prev)
        return self.out

    def _setup(self, frame: av.VideoFrame) -> None:
        self.rotation = _rotation(frame)
        width, height = _display_size(frame, self.sar, self.rotation)
        scale = self.short_side / min(width, height)
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
        self.out = np.empty((len(self.times), height, width, 3), np.uint8)
        self.coded = (height, width) if self.rotation in (90, 270) else (width, height)

    def _assign(self, frame: av.VideoFrame) -> None:
        if self._rgb_of is not frame:  # scale and convert each chosen frame once
            rgb = self._reformatter.reformat(frame, width=self.coded[0], height=self.coded[1], format="rgb24",
                                             interpolation=SCALE_INTERPOLATION).to_ndarray()
            self._rgb_of, self._rgb = frame, np.rot90(rgb, k=-self.rotation // 90)
        self.out[self.order[self.i]] = self._rgb
        self.i += 1


def _h264_length_size(stream: av.VideoStream) -> int | None:
    """Bytes of each NAL length prefix (avcC, as in MP4/MOV/MKV), or None (start codes: not parsed)."""
    extra = stream.codec_context.extradata or b""
    return (extra[4] & 3) + 1 if len(extra) > 4 and extra[0] == 1 else None


def _h264_is_reference(data: memoryview, length_size: int) -> bool:
    """False when the packet's first slice has nal_ref_idc 0: no other picture needs it decoded."""
    pos = 0
    while pos + length_size < len(data):
        nal = data[pos + length_size]
        if nal & 0x1F in (1, 5):  # a coded slice (non-IDR or IDR)
            return bool(nal >> 5 & 3)
        pos += length_size + int.from_bytes(data[pos:pos + length_size], "big")
    return True


def _packet_filter(stream: av.VideoStream, sampler: _FrameSampler, origin: float):
    """A predicate: False for an H.264 packet that no sampled time shows and no picture references."""
    length_size = _h264_length_size(stream) if stream.codec_context.name == "h264" else None
    if not length_size:
        return lambda packet: True

    def keep(packet: av.Packet) -> bool:
        if packet.pts is None or not packet.duration or packet.is_keyframe:
            return True
        start = float(packet.pts * packet.time_base) - origin
        if sampler.shows_time(start, start + float(packet.duration * packet.time_base)):
            return True
        return _h264_is_reference(memoryview(packet), length_size)

    return keep


def _decoded_frames(c: av.container.InputContainer, s: av.VideoStream,
                    sampler: _FrameSampler, origin: float) -> Iterator[av.VideoFrame]:
    """Decode in one pass the keyframe intervals that hold a pending sampled time; skip the rest."""
    keep = _packet_filter(s, sampler, origin)
    buffer: list[av.Packet] = []
    size, live = 0, False  # live: the current keyframe interval is known to be needed
    for packet in c.demux(s):
        if packet.size == 0:
            continue
        if sampler.done:
            return
        t = float(packet.pts * packet.time_base) - origin if packet.pts is not None else None
        if packet.is_keyframe:
            if buffer and (t is None or sampler.pending_time < t):  # the last interval's tail is needed
                yield from _decode(buffer, keep)
            buffer, size, live = [], 0, False
        if live:
            yield from _decode([packet], keep)
            continue
        buffer.append(packet)
        size += packet.size
        if t is None or t >= sampler.pending_time or size > GOP_BUFFER_MAX_BYTES:
            live = True
            yield from _decode(buffer, keep)
            buffer = []
    if buffer and not sampler.done:
        yield from _decode(buffer, keep)
    yield from _decode([None], keep, s)


def _decode(packets: list, keep, stream: av.VideoStream | None = None) -> Iterator[av.VideoFrame]:
    for packet in packets:
        if packet is not None and not keep(packet):
            continue
        try:
            yield from (packet.decode() if packet is not None else stream.decode(None))
        except av.FFmpegError as e:  # one damaged packet: keep going with the next
            log.debug("skipped an undecodable video packet: %s", e)


def _no_video(path: str | Path) -> MediaError:
    return MediaError(f"{path}: has no video stream (audio only); frames need a video file.")


def load_frames(path: str | Path, spans: list[tuple[float, float]], n: int = 16,
                short_side: int = 128) -> np.ndarray:
    """Frames spread evenly across each span, in one decoding pass. Returns uint8 (S, n, H, W, 3) RGB.

    Each sampled time (``sample_times``) gets the frame on screen at that time (by timestamp, so
    variable frame rate is handled); times before the first frame or past the last one get the
    nearest frame. Frames are scaled so that the short side is ``short_side`` and turned upright
    by the rotation metadata. Raises MediaError when the file has no video stream.
    """
    times = sample_times(spans, n)
    if len(times) == 0:
        info = probe(path)
        if not info.has_video:
            raise _no_video(path)
        scale = short_side / min(info.width, info.height)
        return np.zeros((0, n, round(info.height * scale), round(info.width * scale), 3), np.uint8)
    with _open(path) as c:
        stream = _video_stream(c)
        if stream is None:
            raise _no_video(path)
        stream.thread_type = "AUTO"
        if SKIP_LOOP_FILTER:
            stream.codec_context.options = {"skip_loop_filter": "all"}
        origin = _origin(c)
        sar = float(stream.sample_aspect_ratio) if stream.sample_aspect_ratio else 1.0
        sampler = _FrameSampler(times.reshape(-1), short_side, sar, stream)
        try:
            for frame in _decoded_frames(c, stream, sampler, origin):
                sampler.push(frame, origin)
        except av.FFmpegError as e:
            raise MediaError(f"{path}: its video cannot be decoded ({e}); re-export the file.") from e
        if sampler.frames_seen == 0:
            raise MediaError(f"{path}: its video stream holds no decodable picture; the file is damaged "
                             "or truncated: re-export it.")
        out = sampler.finish()
    return out.reshape(times.shape + out.shape[1:])
