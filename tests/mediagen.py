"""Test media made at test time: FFmpeg lavfi sources (the binary inside imageio-ffmpeg) and espeak-ng speech.

Nothing here is committed media: every file is generated into a folder the caller gives (pytest's
``tmp_path`` / ``tmp_path_factory``), in well under a second for the small sizes the tests use.

Import it from a test module as ``from mediagen import make_video`` (pytest puts ``tests/`` on
``sys.path`` because ``tests/`` has a ``conftest.py`` and no ``__init__.py``), or from scripts run at
the repository root as ``from tests.mediagen import make_video`` (``python -m bench.media``).
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from dataclasses import dataclass, field
from pathlib import Path

import imageio_ffmpeg
import numpy as np

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
ESPEAK = "espeak-ng"
# espeak-ng voice "it": "I am so happy, today is the most beautiful day of my life!"
ITALIAN_JOY = "Sono così felice, oggi è il giorno più bello della mia vita!"
AUDIO_RATE = 44100  # Hz, default rate of generated sound tracks
SINE_HZ = 440  # Hz, tone of audio="sine"
# Codecs for each container when the caller does not choose: (video codec, audio codec).
DEFAULT_CODECS = {
    ".mp4": ("libx264", "aac"), ".mov": ("libx264", "aac"), ".mkv": ("libx264", "libopus"),
    ".webm": ("libvpx-vp9", "libopus"), ".avi": ("mpeg4", "libmp3lame"),
}
FAST_VIDEO_OPTS = {  # quick encoder settings (test speed matters more than quality)
    "libx264": ["-preset", "veryfast", "-pix_fmt", "yuv420p"],
    "libvpx-vp9": ["-deadline", "realtime", "-cpu-used", "8", "-pix_fmt", "yuv420p"],
    "libvpx": ["-deadline", "realtime", "-cpu-used", "8"],
    "mpeg4": ["-q:v", "5"],
}


def ffmpeg(*args: str | Path) -> None:
    """Run the bundled ffmpeg; raise RuntimeError with its message if it fails."""
    cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *map(str, args)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr}")


def _audio_input(audio: str | Path, duration: float, rate: int, channels: int) -> list[str]:
    if audio == "sine":
        return ["-f", "lavfi", "-i", f"sine=frequency={SINE_HZ}:sample_rate={rate}:duration={duration}"]
    if audio == "silence":
        layout = {1: "mono", 2: "stereo", 6: "5.1"}[channels]
        return ["-f", "lavfi", "-i", f"anullsrc=channel_layout={layout}:sample_rate={rate}:duration={duration}"]
    return ["-i", str(audio)]


def _lavfi(source: str, **options) -> str:
    """``testsrc2`` + options -> ``testsrc2=size=...``; ``color=c=red`` + options -> ``color=c=red:size=...``."""
    opts = ":".join(f"{k}={v}" for k, v in options.items())
    return f"{source}{':' if '=' in source else '='}{opts}"


def make_video(path: str | Path, duration: float = 2.0, size: tuple[int, int] = (320, 240), fps: float = 25,
               vcodec: str | None = None, acodec: str | None = None, audio: str | Path | None = "sine",
               channels: int = 2, audio_rate: int = AUDIO_RATE, source: str = "testsrc2",
               gop: int | None = None, extra: list[str] = ()) -> Path:
    """A video from a lavfi source (``testsrc2`` moving pattern, or e.g. ``color=c=red``) with optional sound.

    ``audio``: "sine" (440 Hz), "silence", None (no audio stream) or a path to a sound file (muxed,
    cut to the video's duration). The container follows the suffix of ``path``; the codecs default
    to ``DEFAULT_CODECS``. ``gop``: keyframe interval in frames. Returns the path.
    """
    path = Path(path)
    vdef, adef = DEFAULT_CODECS.get(path.suffix, ("libx264", "aac"))
    vcodec, acodec = vcodec or vdef, acodec or adef
    width, height = size
    args = ["-f", "lavfi", "-i", _lavfi(source, size=f"{width}x{height}", rate=fps, duration=duration)]
    if audio is not None:
        args += _audio_input(audio, duration, audio_rate, channels)
        args += ["-c:a", acodec, "-ac", str(channels), "-shortest"]
        if acodec == "libopus":
            args += ["-ar", "48000"]
    args += ["-map", "0:v"] + (["-map", "1:a"] if audio is not None else [])
    args += ["-c:v", vcodec, *FAST_VIDEO_OPTS.get(vcodec, [])] + (["-g", str(gop)] if gop else [])
    ffmpeg(*args, *extra, path)
    return path


def make_audio(path: str | Path, duration: float = 2.0, rate: int = AUDIO_RATE, channels: int = 1,
               source: str = "sine", codec: str | None = None) -> Path:
    """An audio-only file (wav, mp3, flac, m4a, ...; codec from the suffix) of a 440 Hz tone or silence."""
    args = _audio_input(source, duration, rate, channels) + ["-ac", str(channels)]
    ffmpeg(*args, *(["-c:a", codec] if codec else []), path)
    return Path(path)


def rotate(src: str | Path, dst: str | Path, degrees_clockwise: int) -> Path:
    """Copy ``src`` (no re-encoding) with a display matrix that turns the picture clockwise for display,
    as a phone does for a portrait video (``-metadata rotate`` is ignored by FFmpeg 7 and later)."""
    ffmpeg("-display_rotation:v:0", str(-degrees_clockwise), "-i", src, "-c", "copy", dst)
    return Path(dst)


def make_two_colour_video(path: str | Path, size: tuple[int, int] = (160, 240), duration: float = 1.0,
                          fps: float = 25) -> Path:
    """Left half red, right half blue (each half ``size``): shows colour order and rotation direction."""
    w, h = size
    ffmpeg("-filter_complex", f"color=c=red:s={w}x{h}:r={fps}:d={duration}[a];"
           f"color=c=blue:s={w}x{h}:r={fps}:d={duration}[b];[a][b]hstack",
           "-c:v", "libx264", *FAST_VIDEO_OPTS["libx264"], path)
    return Path(path)


def make_vfr_video(path: str | Path, size: int = 64) -> Path:
    """Variable frame rate: 1 s of red at 30 fps, then 2 s of blue at 2 fps (34 frames, 3 s)."""
    ffmpeg("-filter_complex", f"color=c=red:s={size}x{size}:r=30:d=1[a];color=c=blue:s={size}x{size}:r=2:d=2[b];"
           "[a][b]concat=n=2:v=1:a=0", "-fps_mode", "vfr", "-c:v", "libx264", *FAST_VIDEO_OPTS["libx264"], path)
    return Path(path)


def make_header_lying_aac(path: str | Path, seconds: float = 1.0) -> Path:
    """Raw AAC (ADTS) whose first part is stereo and second part 5.1: the header says stereo."""
    path = Path(path)
    stereo, surround = path.with_suffix(".stereo.aac"), path.with_suffix(".51.aac")
    make_audio(stereo, seconds, channels=2, codec="aac")
    make_audio(surround, seconds, channels=6, codec="aac")
    path.write_bytes(stereo.read_bytes() + surround.read_bytes())
    stereo.unlink()
    surround.unlink()
    return path


def write_pipe_webm(path: str | Path, duration: float = 2.0, size: tuple[int, int] = (160, 120)) -> Path:
    """VP9/Opus WebM written to a pipe, so its header has no duration (like a browser's MediaRecorder)."""
    w, h = size
    cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "lavfi", "-i",
           f"testsrc2=size={w}x{h}:rate=25:duration={duration}", "-f", "lavfi", "-i",
           f"sine=sample_rate=48000:duration={duration}", "-c:v", "libvpx-vp9", *FAST_VIDEO_OPTS["libvpx-vp9"],
           "-c:a", "libopus", "-f", "webm", "pipe:1"]
    with open(path, "wb") as out:
        subprocess.run(cmd, stdout=out, check=True)
    return Path(path)


def truncate(src: str | Path, dst: str | Path, fraction: float = 0.5) -> Path:
    """The first ``fraction`` of the bytes of ``src`` (a download cut short)."""
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * fraction)])
    return Path(dst)


def garble_picture(src: str | Path, dst: str | Path, sound: bool = True, start: float = 0.0,
                   end: float = float("inf")) -> Path:
    """``src`` remuxed into Matroska with the bytes of every picture packet from ``start`` to ``end`` s random
    (its sound, if kept, intact): a picture no decoder reads there, as a damaged stream (or, all of it, a codec
    FFmpeg lacks) gives. The same bytes on every run."""
    import random

    import av

    rng = random.Random(7)
    with av.open(str(src)) as i, av.open(str(dst), "w") as o:
        streams = {s: o.add_stream_from_template(s) for s in (*i.streams.video[:1], *i.streams.audio[:1][:sound])}
        for packet in i.demux(*streams):
            if packet.dts is None:  # the demuxer's flush packets
                continue
            if packet.stream.type == "video" and start <= packet.pts * packet.time_base < end:
                garbled = av.Packet(rng.randbytes(packet.size))
                garbled.pts, garbled.dts, garbled.time_base = packet.pts, packet.dts, packet.time_base
                packet = garbled
            packet.stream = streams[i.streams[packet.stream_index]]
            o.mux(packet)
    return Path(dst)


def speak(text: str, path: str | Path, speed_wpm: int = 160, voice: str = "en") -> Path:
    """One espeak-ng utterance as a mono 22.05 kHz wav, in the language of ``voice`` (an espeak-ng voice)."""
    if shutil.which(ESPEAK) is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    subprocess.run([ESPEAK, "-v", voice, "-s", str(speed_wpm), "-w", str(path), text], check=True, capture_output=True)
    return Path(path)


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), np.int16), w.getframerate()


@dataclass
class TalkingVideo:
    """A generated video with speech, and when each sentence is heard."""

    path: Path
    sentences: list[str]
    spans: list[tuple[float, float]] = field(default_factory=list)  # (start, end) s of each sentence
    duration: float = 0.0  # s


def talking_video(path: str | Path, sentences: list[str], gap_s: float = 0.8, lead_s: float = 0.5,
                  size: tuple[int, int] = (320, 240), fps: float = 25, min_duration: float = 0.0,
                  preset: str = "veryfast", source: str = "testsrc2", voice: str = "en") -> TalkingVideo:
    """espeak-ng sentences one after another with ``gap_s`` of silence, over a moving test picture.

    The sound track starts with ``lead_s`` of silence and is padded with silence to at least
    ``min_duration`` seconds. H.264 + AAC in the container named by the suffix.
    """
    path = Path(path)
    pieces, spans, rate, t = [], [], None, lead_s
    for i, text in enumerate(sentences):
        wav = speak(text, path.with_suffix(f".s{i}.wav"), voice=voice)
        samples, rate = _read_wav(wav)
        wav.unlink()
        samples = np.trim_zeros(samples)
        spans.append((t, t + len(samples) / rate))
        pieces.append(samples)
        t += len(samples) / rate + gap_s
    rate = rate or 22050
    total = max(t - gap_s + lead_s, min_duration)
    track = np.zeros(round(total * rate), np.int16)
    for (start, _), samples in zip(spans, pieces):
        i = round(start * rate)
        track[i: i + len(samples)] = samples
    speech = path.with_suffix(".speech.wav")
    with wave.open(str(speech), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate), w.writeframes(track.tobytes())
    width, height = size
    ffmpeg("-f", "lavfi", "-i", _lavfi(source, size=f"{width}x{height}", rate=fps, duration=total), "-i", speech,
           "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", preset, "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-ar", "44100", "-shortest", path)
    speech.unlink()
    return TalkingVideo(path=path, sentences=list(sentences), spans=spans, duration=total)


def joined_clips(paths, pause_s: float = 0.5) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Real clips' sound (16 kHz mono, ``mmsent.media.load_audio``) one after another, each followed by ``pause_s``
    of silence; and each clip's (start, end) in seconds."""
    from mmsent import media

    parts, spans, at = [], [], 0.0
    for path in paths:
        clip = media.load_audio(path)
        parts += [clip, np.zeros(int(pause_s * media.SAMPLE_RATE), np.float32)]
        spans.append((at, at + len(clip) / media.SAMPLE_RATE))
        at += len(clip) / media.SAMPLE_RATE + pause_s
    return np.concatenate(parts), spans


def dubbed_video(path: str | Path, sentences: list[str], languages: tuple[str, str] = ("ger", "eng"),
                 commentary: bool = False) -> TalkingVideo:
    """A dubbed film in small: the picture of ``talking_video``, audio track 1 a steady tone tagged
    ``languages[0]`` (the default track: the one a player plays), track 2 the espeak-ng ``sentences`` tagged
    ``languages[1]``; with ``commentary``, a track 3 of silence also tagged ``languages[1]`` (title
    Commentary). Its ``spans`` are those of the speech on track 2."""
    path = Path(path)
    talk = talking_video(path.with_name(f"{path.stem}.talk{path.suffix}"), sentences)
    extra = ["-f", "lavfi", "-i", f"anullsrc=sample_rate=16000:duration={talk.duration:.2f}"] if commentary else []
    ffmpeg("-i", talk.path, "-f", "lavfi", "-i", f"sine=frequency={SINE_HZ}:sample_rate=16000:"
           f"duration={talk.duration:.2f}", *extra, "-map", "0:v", "-map", "1:a", "-map", "0:a",
           *(["-map", "2:a"] if commentary else []), "-c:v", "copy", "-c:a", "aac",
           "-metadata:s:a:0", f"language={languages[0]}", "-metadata:s:a:1", f"language={languages[1]}",
           *(["-metadata:s:a:2", f"language={languages[1]}", "-metadata:s:a:2", "title=Commentary",
              "-disposition:a:2", "0"] if commentary else []),
           "-disposition:a:0", "default", "-disposition:a:1", "0", path)
    talk.path.unlink()
    return TalkingVideo(path=path, sentences=talk.sentences, spans=talk.spans, duration=talk.duration)
