"""Decode any audio or video file: the whole audio track once, frames for many spans in one pass.

PyAV (FFmpeg libraries inside its wheel) decodes. Times are seconds from the start of the file.
``load_frames`` reads the video once for all spans; it does not decode a keyframe interval (GOP)
holding no sampled time, nor an H.264 non-reference picture that no sampled time shows, and it
scales (swscale, in C) and converts to RGB only the frames sampled: memory stays bounded.
What a file holds (``probe``, ``MediaInfo``, ``MediaError``) lives in ``mmsent.probe`` and is
re-exported here, so ``media.probe`` and ``media.MediaError`` keep working.
"""

from __future__ import annotations

import collections
import itertools
import logging
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from .probe import (  # noqa: F401  (MediaInfo, probe: re-exported)
    MediaError, MediaInfo, _audio_stream, _decode, _display_size, _header_duration, _open, _orientation, _origin,
    _video_stream, probe, reason,
)

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000  # Hz, rate of the audio returned by load_audio
GOP_BUFFER_MAX_BYTES = 32 * 2**20  # compressed bytes held at most while deciding to skip a GOP
COMPLETE_FRACTION = 0.9  # decoded length below this share of the header's duration: warn "truncated"
GAP_S = 0.1  # s: a jump of the sound's timestamps this far ahead of its samples is a gap filled with silence (a
# recorder that dropped sound, a stream cut and joined); shorter ones are the timestamps' rounding
CANCELLED_RMS = 1e-3  # a downmix this quiet is checked for channels that cancel out (one the other inverted)
MIX_TEST_SAMPLES = 64  # samples of the silent frame that tells whether FFmpeg mixes a sound's channels (``_mixable``)
SKIP_LOOP_FILTER = True  # skip H.264/HEVC deblocking: ~1.4x faster; at 128 px frames differ by <1/255 on average
PICTURE_END_SLACK_S = 1.0  # s a stream's last frame may stay on screen (at least two frame intervals) before
# the picture counts as ended, and the later sampled times get black
LOST_SAID = 3  # stretches of a picture that can't be decoded named in the notes (then how many more)
REORDER_PACKETS = 16  # packets kept in view to tell when a B-picture ends: H.264 reorders at most 16 pictures
SCALE_INTERPOLATION = "AREA"  # swscale filter that shrinks frames to the output size (area averaging)

__all__ = ["SAMPLE_RATE", "MediaError", "MediaInfo", "probe", "load_audio", "sample_times", "load_frames"]


def _channel_chunks(frames: Iterator[av.AudioFrame], sample_rate: int, layout: str = "mono",
                    until: float | None = None) -> Iterator[np.ndarray]:
    """Float32 samples of the first channel of the frames mixed to ``layout`` (mono: the downmix); a new
    resampler whenever the format or channel layout changes mid-stream. Where the frames' timestamps jump
    ahead of their samples by GAP_S or more (nothing was recorded there), silence fills the gap, as a player
    plays it, so that the sound after it keeps its time; not for a frame past ``until`` (s, the stream's
    clock: where the header says the track ends), whose timestamp is damaged."""
    resampler, key, at = None, None, None  # at: the stream's time (s) where the next sample decoded goes
    for frame in itertools.chain(frames, [None]):
        new_key = None if frame is None else (frame.format.name, frame.layout.name, frame.sample_rate)
        t = None if frame is None else frame.time
        gap = 0.0 if t is None or at is None or (until is not None and t > until) else t - at
        if resampler is not None and (new_key != key or gap >= GAP_S):  # flush the old one
            yield from (f.to_ndarray()[0] for f in resampler.resample(None))
            resampler = None
        if gap >= GAP_S:
            log.debug("a gap of %.2f s in the sound's timestamps at %.2f s: filled with silence", gap, at)
            yield np.zeros(round(gap * sample_rate), np.float32)
        if frame is not None:
            at = (at if at is not None and gap < GAP_S else t or 0.0) + frame.samples / frame.sample_rate
            if resampler is None:
                if new_key != key:  # a format or layout of its own: can FFmpeg mix its channels? (asked once)
                    key, own = new_key, not _mixable(frame)
                resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
            yield from (f.to_ndarray()[0] for f in resampler.resample(_averaged(frame, layout) if own else frame))


SAMPLE_SCALES = {"u8": (128.0, 128.0), "s16": (0.0, 2.0**15), "s32": (0.0, 2.0**31), "s64": (0.0, 2.0**63),
                 "flt": (0.0, 1.0), "dbl": (0.0, 1.0)}  # sample format -> (zero, full scale) of its numbers


def _mixable(frame: av.AudioFrame) -> bool:
    """Whether FFmpeg mixes the frame's channels to mono: not where they are in no order it knows, and it has
    no default order for their number (a WAV of 9, 11, 13, 15, 17 or more channels that names none, as a
    multitrack recorder's or an ambisonic microphone's). Tried on a silent frame of its kind: FFmpeg left a frame it
    had converted unconvertible at another rate (a Windows Media file's of 48 kHz, "1 channels", was refused)."""
    silent = av.AudioFrame(format=frame.format.name, layout=frame.layout, samples=MIX_TEST_SAMPLES)
    silent.sample_rate = frame.sample_rate
    for plane in silent.planes:
        plane.update(bytes(plane.buffer_size))
    try:
        av.AudioResampler(format="fltp", layout="mono", rate=frame.sample_rate).resample(silent)
    except av.FFmpegError:
        log.info("%d audio channels in no known order: their mean is the sound", frame.layout.nb_channels)
        return False
    return True


def _averaged(frame: av.AudioFrame, layout: str) -> av.AudioFrame:
    """A mono float frame, at the frame's rate and time, of the mean of its channels (``layout`` mono), else of
    its first channel: for channels FFmpeg does not mix (``_mixable``)."""
    n, (zero, full) = frame.layout.nb_channels, SAMPLE_SCALES[frame.format.name.removesuffix("p")]
    x = frame.to_ndarray()
    x = x.reshape(n, -1) if frame.format.is_planar else x.reshape(-1, n).T
    mono = ((x.mean(0) if layout == "mono" else x[0]) - zero) / full
    out = av.AudioFrame.from_ndarray(mono.astype(np.float32)[None], format="fltp", layout="mono")
    out.sample_rate, out.pts, out.time_base = frame.sample_rate, frame.pts, frame.time_base
    return out


def _audio_frames(c: av.container.InputContainer, stream: av.AudioStream) -> Iterator[av.AudioFrame]:
    for packet in c.demux(stream):
        try:
            yield from packet.decode()
        except av.FFmpegError as e:  # one damaged packet: keep going
            log.debug("skipped an undecodable audio packet: %s", e)


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE, problems: list[str] | None = None,
               track: int | str | None = None) -> np.ndarray | None:
    """Decode the whole audio track once (the one ``track`` names, ``AnalysisOptions.audio_track``: its number
    or language; None: the one a player plays, the default track, else the first): float32 mono at
    ``sample_rate`` Hz, shape (samples,).

    Sample 0 is the start of the file (a track that starts late is padded with silence, and so is a gap in its
    timestamps, where nothing was recorded: what follows keeps its time, as a player plays it). Any channel
    layout is downmixed, also when it changes inside the stream (a 5.1 track whose header says stereo), and
    channels in no order FFmpeg knows are averaged; channels that cancel out in the mix (one the other
    inverted) give their first channel alone. Returns None when the file has no audio stream; raises MediaError
    when it has some and none is ``track`` (``probe._audio_stream``). What was wrong
    but could be read past (samples that are not numbers, a track shorter than its header says, cancelled
    channels) is appended to ``problems`` when it is given (the analysis's notes), else warned.
    """
    def problem(text: str) -> None:
        if problems is None:
            warnings.warn(f"{path}: {text}", stacklevel=3)
        else:
            problems.append(text)

    with _open(path) as c:
        stream = _audio_stream(c, track)
        if stream is None:
            return None
        origin, end = _origin(c), _track_end(stream)
        # the track's own end where known: sound that ends before the picture is not cut
        expected = end - origin if end is not None else _header_duration(c)
        frames = _audio_frames(c, stream)
        head = next(frames, None)
        if head is None:
            raise MediaError(f"{path}: its audio stream holds no decodable sound; the file is damaged or truncated.")
        first = float(head.pts * stream.time_base) if head.pts is not None else 0.0
        size = round((expected or 0) * sample_rate)  # samples the header announces: the buffer's size
        until = origin + expected if expected else None  # the track's end on the stream's clock
        try:
            audio = _joined(_channel_chunks(itertools.chain([head], frames), sample_rate, until=until), size)
        except av.FFmpegError as e:  # e.g. a channel layout the resampler cannot map
            raise MediaError(f"{path}: its audio cannot be converted to mono ({reason(e)}); re-export the file.") from e
        if (stream.codec_context.channels or 1) > 1 and audio.size and _rms(audio) < CANCELLED_RMS:
            left = _first_channel(path, stream.index, sample_rate, size, until)
            if left is not None and _rms(left) > 10 * max(_rms(audio), CANCELLED_RMS / 10):
                problem("Its channels cancel out when mixed to mono (one is the other turned upside down, as from a "
                        "miswired microphone): the first channel alone was analysed.")
                audio = left
    offset = round((first - origin) * sample_rate)
    if offset > 0:
        audio = np.concatenate([np.zeros(offset, np.float32), audio])
    elif offset < 0:
        audio = audio[-offset:]
    bad = ~np.isfinite(audio)
    if bad.any():  # a float track can store NaN and infinity; every consumer downstream needs numbers
        problem(f"{bad.mean():.0%} of its audio samples are not numbers (NaN or infinite); they are treated as silence.")
        audio[bad] = 0.0
    if expected and len(audio) / sample_rate < COMPLETE_FRACTION * expected - 0.5:
        problem(f"Only {len(audio) / sample_rate:.1f} s of sound could be decoded of the {expected:.1f} s that the "
                "file's header announces: the file looks truncated, and nothing after that was read.")
    return np.ascontiguousarray(audio, dtype=np.float32)


def _joined(chunks: Iterator[np.ndarray], size_hint: int) -> np.ndarray:
    """The chunks end to end, each written into one buffer as it comes: sized for ``size_hint`` samples
    (the header's length), grown by half where that is short. A list of the chunks and their
    concatenation would hold the whole sound twice (about 0.9 GB for two hours)."""
    out, n = np.empty(int(size_hint * 1.01) + 1024, np.float32), 0  # a little to spare
    for chunk in chunks:
        if n + len(chunk) > len(out):
            out = np.concatenate([out[:n], np.empty(max(len(chunk), len(out) // 2), np.float32)])
        out[n:n + len(chunk)] = chunk
        n += len(chunk)
    return out[:n] if n >= 0.9 * len(out) else out[:n].copy()  # a header that says much more: its room freed


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def _track_end(stream: av.stream.Stream) -> float | None:
    """When the track ends (s, on the file's clock): its start plus its duration, or the DURATION tag that
    Matroska and WebM writers give each track instead ('00:00:04.008000000': FFmpeg writes there the time
    of the track's end, not its length, so a late track is not taken to end later than it does); None
    when neither is known."""
    start = float((stream.start_time or 0) * stream.time_base) if stream.time_base else 0.0
    if stream.duration and stream.time_base:
        return start + float(stream.duration * stream.time_base)
    try:
        h, m, sec = stream.metadata.get("DURATION", "").split(":")
        return max(start, int(h) * 3600 + int(m) * 60 + float(sec))
    except ValueError:
        return None


def _first_channel(path: str | Path, index: int, sample_rate: int, size: int,
                   until: float | None = None) -> np.ndarray | None:
    """The first channel alone (after a downmix to stereo) of the audio stream ``index``, float32 at
    ``sample_rate`` (about ``size`` samples; gaps filled up to ``until`` as ``_channel_chunks`` does): a second
    decoding, only for a track whose mono mix is silent; None when it fails."""
    try:
        with _open(path) as c:
            left = _joined(_channel_chunks(_audio_frames(c, c.streams[index]), sample_rate, "stereo", until), size)
    except av.FFmpegError:
        return None
    return left if left.size else None


def sample_times(spans: list[tuple[float, float]], n: int) -> np.ndarray:
    """Times (s) of the ``n`` frames taken from each span: the centres of n equal parts. Shape (S, n)."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    arr = np.asarray(spans, dtype=np.float64).reshape(-1, 2)
    if not np.isfinite(arr).all():
        raise ValueError(f"spans must be finite (start, end) seconds, got {spans!r}")
    start, end = arr[:, :1], np.maximum(arr[:, 1:], arr[:, :1])
    return start + (end - start) * (np.arange(n) + 0.5) / n


def _scale(width: int, height: int, short_side: int, upscale: bool) -> float:
    """The factor that gives a picture's short side ``short_side`` pixels (at most 1 unless ``upscale``)."""
    scale = short_side / min(width, height)
    return scale if upscale else min(scale, 1.0)


class _FrameSampler:
    """Gives each sampled time the frame on screen then (by timestamp); keeps small RGB copies only."""

    def __init__(self, times: np.ndarray, short_side: int, stream: av.VideoStream, origin: float,
                 upscale: bool = True):
        """times: (S, n), n sampled times for each of S spans."""
        self.upscale = upscale
        self.n = times.shape[1]
        self.order = np.argsort(times.reshape(-1), kind="stable")
        self.times, self.i, self.short_side, self.origin = times.reshape(-1)[self.order], 0, short_side, origin
        self.stream = stream
        rate, self.time_base = stream.average_rate or stream.guessed_rate, stream.time_base
        self.step = 1.0 / float(rate) if rate else 0.04  # s between frames that lack a timestamp
        # where the stream's header says its picture ends (None: it does not say)
        end = _track_end(stream)
        self.declared_end = end - origin if end is not None else None
        self.prev, self.prev_t, self.shape = None, 0.0, None  # shape: (H, W, 3) of the frames kept
        self.slack = max(PICTURE_END_SLACK_S, 2 * self.step)  # s the last frame may stay on screen
        self.lost_at: float | None = None  # the earliest time of an undecodable packet after the last frame
        self.lost: list[tuple[float, float]] = []  # stretches whose picture was lost, where it showed
        self.open, self.ready = {}, []  # span -> its frames (n, H, W, 3) so far; (span, frames) complete
        self._rgb_of, self._rgb, self._reformatter = None, None, VideoReformatter()

    @property
    def pending_time(self) -> float:
        """The earliest sampled time still without a frame; inf when every one has its frame."""
        return float(self.times[self.i]) if self.i < len(self.times) else float("inf")

    def shows_time(self, start: float, end: float) -> bool:
        """Whether a sampled time falls in [start, end)."""
        i = np.searchsorted(self.times, start)
        return bool(i < len(self.times) and self.times[i] < end)

    def _time(self, pts: int | None) -> float:
        """A frame's or packet's time (s from the media's start) by the stream's time base; without one (frames
        flushed at the end of the stream carry none), a frame interval after the last frame."""
        return float(pts * self.time_base) - self.origin if pts is not None else self.prev_t + self.step

    def push(self, frame: av.VideoFrame) -> None:
        t = self._time(frame.pts)
        if self.lost_at is not None and self.lost_at <= t and not frame.key_frame:
            return  # built on the picture lost (the decoder hides the damage): lost too, until a keyframe
        if self.shape is None:
            self._setup(frame)
        while self.pending_time < t:
            self._assign(None if self._is_lost(self.pending_time) else self.prev if self.prev is not None else frame)
        self._found(t)
        self.prev, self.prev_t = frame, t

    def lose(self, packet: av.Packet) -> None:
        """``packet`` could not be decoded: where its picture would show, and the last frame can't still be on
        screen, the sampled times get black (holding the frame before the damage made a still face out of
        nothing); so do those of the frames after it until a keyframe, which the decoder builds on what was lost
        (an earlier moment's picture, smeared)."""
        t = self._time(packet.pts)
        if t >= self.prev_t or self.prev is None:
            self.lost_at = t if self.lost_at is None else min(self.lost_at, t)

    def finish(self) -> None:
        """The times left after the last frame get it, but black where the stream's header says the picture
        goes on and the last frame can't still be on screen: a file cut short (repeating its last frame made a
        still face out of nothing), and so after damage that no later frame follows. Past the declared end, as
        in a stream shorter than its sound, the last frame stays."""
        end = self.prev_t + self.slack
        while self.i < len(self.times):
            t = self.times[self.i]
            cut = self.declared_end is not None and end < t <= self.declared_end
            self._assign(None if cut or self._is_lost(t) else self.prev)
        self._found(float("inf"))

    def _is_lost(self, t: float) -> bool:
        """Whether the picture at ``t`` is one that could not be decoded, the last frame no longer on screen."""
        return self.lost_at is not None and t >= self.lost_at and t > self.prev_t + self.slack

    def _found(self, t: float) -> None:
        """A frame (or the end) at ``t``: the damage before it, if it held a sampled time, is a stretch lost."""
        if self.lost_at is not None and self.lost_at <= t:
            if t > self.prev_t + self.slack and self.shows_time(self.prev_t + self.slack, t + 1e-9):
                self.lost.append((max(self.lost_at, self.prev_t + self.slack), t))
            self.lost_at = None

    def take(self) -> list[tuple[int, np.ndarray]]:
        """The spans whose frames are all there since the last call: (span index, frames (n, H, W, 3))."""
        ready, self.ready = self.ready, []
        return ready

    def _setup(self, frame: av.VideoFrame) -> None:
        self.rotation, self.mirrored = _orientation(frame)
        width, height = _display_size(frame, self.stream)
        scale = _scale(width, height, self.short_side, self.upscale)
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
        self.shape = (height, width, 3)
        self.coded = (height, width) if self.rotation in (90, 270) else (width, height)

    def _assign(self, frame: av.VideoFrame | None) -> None:
        """The next sampled time gets ``frame``, or black for None."""
        if frame is None:
            self._rgb_of, self._rgb = None, np.zeros(self.shape, np.uint8)
        elif self._rgb_of is not frame:  # scale and convert each chosen frame once
            rgb = self._reformatter.reformat(frame, width=self.coded[0], height=self.coded[1], format="rgb24",
                                             interpolation=SCALE_INTERPOLATION).to_ndarray()
            self._rgb_of, self._rgb = frame, np.rot90(rgb[:, ::-1] if self.mirrored else rgb, k=-self.rotation // 90)
        span, slot = divmod(int(self.order[self.i]), self.n)
        if span not in self.open:
            self.open[span] = np.empty((self.n, *self.shape), np.uint8)
        self.open[span][slot] = self._rgb
        if slot == self.n - 1:  # a span's times rise and the sort is stable: its last slot is filled last
            self.ready.append((span, self.open.pop(span)))
        self.i += 1


def _h264_is_reference(data: memoryview, length_size: int) -> bool:
    """False when the packet's first slice has nal_ref_idc 0: no other picture needs it decoded."""
    pos = 0
    while pos + length_size < len(data):
        nal = data[pos + length_size]
        if nal & 0x1F in (1, 5):  # a coded slice (non-IDR or IDR)
            return bool(nal >> 5 & 3)
        pos += length_size + int.from_bytes(data[pos:pos + length_size], "big")
    return True


def _packet_filter(stream: av.VideoStream, sampler: _FrameSampler):
    """A predicate, False for an H.264 packet that no sampled time shows and no picture references.
    Only length-prefixed H.264 (avcC: MP4, MOV, MKV) is parsed; anything else is always decoded.

    A picture shows until the next one. A B-picture's next was decoded before it: the earliest later time of
    the packets just before it is when it ends at the latest (its own duration may be the nominal frame rate's,
    as Matroska's packets give where pictures come less often); another picture shows until its duration ends."""
    extra = stream.codec_context.extradata or b""
    if stream.codec_context.name != "h264" or len(extra) < 5 or extra[0] != 1:
        return lambda packet: True
    length_size = (extra[4] & 3) + 1
    before: collections.deque[float] = collections.deque(maxlen=REORDER_PACKETS)  # times of the packets just before

    def keep(packet: av.Packet) -> bool:
        if packet.pts is None:
            return True
        start = float(packet.pts * packet.time_base) - sampler.origin
        after = min((t for t in before if t > start), default=None)
        before.append(start)
        if not packet.duration or packet.is_keyframe:
            return True
        end = after if after is not None else start + float(packet.duration * packet.time_base)
        if sampler.shows_time(start, end):
            return True
        return _h264_is_reference(memoryview(packet), length_size)

    return keep


def _decoded_frames(c: av.container.InputContainer, s: av.VideoStream,
                    sampler: _FrameSampler) -> Iterator[av.VideoFrame]:
    """Decode in one pass the keyframe intervals that hold a pending sampled time; skip the rest."""
    keep, buffer, size, live = _packet_filter(s, sampler), [], 0, False  # live: this interval is needed
    for packet in c.demux(s):
        if packet.size == 0:
            continue
        if sampler.pending_time == float("inf"):
            return
        t = float(packet.pts * packet.time_base) - sampler.origin if packet.pts is not None else None
        if packet.is_keyframe:
            if buffer and (t is None or sampler.pending_time < t):  # the last interval's tail is needed
                yield from _decode(buffer, keep, lost=sampler.lose)
            buffer, size, live = [], 0, False
        if live:
            yield from _decode([packet], keep, lost=sampler.lose)
            continue
        buffer.append(packet)
        size += packet.size
        if t is None or t >= sampler.pending_time or size > GOP_BUFFER_MAX_BYTES:
            live = True
            yield from _decode(buffer, keep, lost=sampler.lose)
            buffer = []
    yield from _decode(buffer + [None], keep, s, sampler.lose)


def load_frames(path: str | Path, spans: list[tuple[float, float]], n: int = 16,
                short_side: int = 128, upscale: bool = True, problems: list[str] | None = None,
                stop: threading.Event | None = None) -> np.ndarray | None:
    """Frames spread evenly across each span, in one decoding pass. Returns uint8 (S, n, H, W, 3) RGB.

    Each sampled time (``sample_times``) gets the frame on screen at that time (by timestamp, so
    variable frame rate is handled); times before the first frame get it, and so do times past the last
    one, except in a file cut short: there, past ``PICTURE_END_SLACK_S`` (or two frame intervals) after it
    and before the end the stream declares, black; so are the times whose picture can't be decoded (damaged
    data), once the last good frame can't still be on screen: that is said in ``problems`` when it is given
    (the analysis's notes), else warned. Frames are scaled so that the short side is ``short_side`` (at most, unless
    ``upscale``: a small picture holds no more detail enlarged) and turned upright
    by the rotation metadata. Raises MediaError when the file has no video stream. Returns None, early, once
    ``stop`` is set (looked at as each span's frames are complete, as ``faces.FaceGrid.read`` does).
    """
    out = None
    for span, frames in span_frames(path, spans, n, short_side, upscale, problems):
        if stop is not None and stop.is_set():
            return None
        if out is None:
            out = np.empty((len(spans), *frames.shape), np.uint8)
        out[span] = frames
    if out is None:  # no spans: an empty array of the frames' size
        info = probe(path)
        scale = _scale(info.width, info.height, short_side, upscale)
        return np.zeros((0, n, round(info.height * scale), round(info.width * scale), 3), np.uint8)
    return out


def span_frames(path: str | Path, spans: list[tuple[float, float]], n: int = 16, short_side: int = 128,
                upscale: bool = True, problems: list[str] | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """``load_frames`` one span at a time: yields (span index, its frames uint8 (n, H, W, 3)) as soon as
    the decoding pass has them all, in the order their last frame comes, so that a caller that
    reduces each span's frames (to face crops, say) holds few frames at once, however long the video."""
    times, no_video = sample_times(spans, n), f"{path}: has no video stream (audio only); frames need a video file."
    if len(times) == 0:
        if not probe(path).has_video:
            raise MediaError(no_video)
        return
    with _open(path) as c:
        stream = _video_stream(c)
        if stream is None:
            raise MediaError(no_video)
        stream.thread_type = "AUTO"
        if SKIP_LOOP_FILTER:
            stream.codec_context.options = {"skip_loop_filter": "all"}
        sampler = _FrameSampler(times, short_side, stream, _origin(c), upscale)
        try:
            for frame in _decoded_frames(c, stream, sampler):
                sampler.push(frame)
                yield from sampler.take()
        except av.FFmpegError as e:
            raise MediaError(f"{path}: its video cannot be decoded ({reason(e)}); re-export the file.") from e
        if sampler.prev is None:
            raise MediaError(f"{path}: its video stream holds no decodable picture; the file is damaged "
                             "or truncated: re-export it.")
        sampler.finish()
        yield from sampler.take()
    if sampler.lost:
        text = _lost_text(sampler.lost)
        if problems is None:
            warnings.warn(f"{path}: {text}", stacklevel=2)
        else:
            problems.append(text)


def _lost_text(stretches: list[tuple[float, float]]) -> str:
    """What the notes say of the stretches (start, end) s whose picture could not be decoded."""
    said = ", ".join(f"from {start:.1f} s" + (" to the end" if end == float("inf") else f" to {end:.1f} s")
                     for start, end in stretches[:LOST_SAID])
    if len(stretches) > LOST_SAID:
        said += f" and in {len(stretches) - LOST_SAID} more stretches"
    return (f"The picture can't be decoded {said}: its data is damaged there. Nothing is read from the picture "
            "there (the sound is); to have the faces read, re-export the video.")
