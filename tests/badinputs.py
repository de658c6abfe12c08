"""A corpus of bad and edge inputs, all generated here (ffmpeg lavfi, espeak-ng, bytes): nothing downloaded.

    python tests/badinputs.py OUTDIR      # writes the files and OUTDIR/cases.json, prints a table

Each :class:`Case` says what it expects from ``mmsent.analyze``: ``"ok"`` with ``checks`` that a
correct analysis must pass, or ``"error"`` with the exception type and a fragment of its message.
``app`` is the fragment of the app's refusal where the demo is stricter than the library (no sound
track, its --max-seconds). Used by tests/test_bad_inputs.py, through the library, CLI and app.
"""

from __future__ import annotations

import json
import math
import random
import struct
import subprocess
import sys
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mediagen import (  # noqa: E402
    ESPEAK, ffmpeg, garble_picture, make_audio, make_video, rotate, truncate, write_pipe_webm,
)

LONG_SECONDS = 1800  # s: the 30-minute input (16x16 pixels, 1 fps, silent 8 kHz audio: cheap to make)
MAX_SECONDS = 600  # s: the limit given to the library, the CLI and the app for the corpus
SEED = 7  # random bytes are the same on every run
MUSIC = ("aevalsrc=0.25*sin(2*PI*(262+131*mod(floor(4*t)\\,3))*t)+0.15*sin(2*PI*392*t)*(1+sin(2*PI*3*t))"
         ":s=44100:d={d}")  # a chord with a moving bass line: music without words
SPEECH_EN = "The weather is lovely today, and my brother bought a green bicycle."
SPEECH_DE = "Guten Morgen. Heute ist das Wetter wirklich schön, und wir gehen in den Park."
WEIRD_NAME = "it's a \"quoted\" vidéo 日本 (1).mp4"  # spaces, quotes, non-ASCII, brackets


@dataclass
class Case:
    """One input and what it should give."""

    name: str  # short id, unique
    path: str  # relative to the corpus folder (may hold "..": the traversal cases)
    what: str  # what is wrong or unusual about it
    expect: str  # "ok" or "error"
    error: str | None = None  # exception class name when expect == "error"
    message: str | None = None  # fragment of the error message (case-sensitive)
    checks: dict = field(default_factory=dict)  # has_audio, has_video, duration, rotation, width, height,
    # speech (True: some speech segment), language, words (lower-case words the transcript must hold)
    options: dict = field(default_factory=dict)  # AnalysisOptions fields (subtitles: a path relative to corpus)
    app: str | None = None  # fragment of the app's refusal where it is stricter than the library
    cli: str | None = None  # fragment of the command line's FAILED line where it says other than the library


def _espeak(text: str, wav: Path, voice: str = "en") -> float:
    subprocess.run([ESPEAK, "-v", voice, "-s", "150", "-w", str(wav), text], check=True, capture_output=True)
    import wave

    with wave.open(str(wav)) as w:
        return w.getnframes() / w.getframerate()


def _float_wav(path: Path, samples: list[float], rate: int = 16000) -> Path:
    """A 32-bit float mono WAV written by hand (format tag 3), so that any value can be stored."""
    data = struct.pack(f"<{len(samples)}f", *samples)
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE"
                     + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data)
    return path


def _corrupt_middle(src: Path, dst: Path, rng: random.Random, share: float = 0.25) -> Path:
    """Overwrite bytes in the middle of the file (inside mdat of a faststart mp4) with random bytes."""
    data = bytearray(src.read_bytes())
    n = len(data)
    for start in range(int(n * 0.45), int(n * (0.45 + share)), 997):
        data[start:start + 64] = rng.randbytes(64)
    dst.write_bytes(bytes(data))
    return dst


def _media_cases(d: Path, rng: random.Random) -> list[Case]:
    cases = []
    add = cases.append
    ok_av = {"has_audio": True, "has_video": True}
    # --- not media at all ---
    (d / "empty.mp4").write_bytes(b"")
    add(Case("empty", "empty.mp4", "zero-byte file", "error", "MediaError", "the file is empty (0 bytes)"))
    (d / "text.mp4").write_text("This is a shopping list, not a video.\nmilk\neggs\n")
    add(Case("text_as_mp4", "text.mp4", "text file named .mp4", "error", "MediaError", "cannot be read as audio or video"))
    (d / "random.mp4").write_bytes(rng.randbytes(200_000))
    add(Case("random_bytes", "random.mp4", "200 kB of random bytes", "error", "MediaError", "cannot be read as audio or video"))
    (d / "folder.mp4").mkdir(exist_ok=True)
    add(Case("directory", "folder.mp4", "a directory named .mp4", "error", "MediaError",
             "is a folder; give the audio or video files in it", cli="a folder that holds no audio or video file"))
    add(Case("missing", "no_such_file.mp4", "a path that does not exist", "error", "MediaError", "file not found"))
    add(Case("traversal_to_system_file", "sub/" + "../" * 40 + "etc/passwd", "a path that climbs out of the "
             "corpus folder to /etc/passwd", "error", "MediaError", "cannot be read as audio or video"))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48", "-frames:v", "1", d / "image.png")
    add(Case("png_image", "image.png", "a still PNG image", "error", "MediaError", "still image"))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48", "-frames:v", "1", "-f", "mjpeg", d / "jpeg.mp4")
    add(Case("jpeg_as_mp4", "jpeg.mp4", "a JPEG image named .mp4", "error", "MediaError", "still image"))
    (d / "subs_as_video.mp4").write_text("1\n00:00:00,000 --> 00:00:01,000\nHello\n")
    add(Case("srt_as_video", "subs_as_video.mp4", "a subtitle file given as the video", "error", "MediaError",
             "neither an audio nor a video stream"))
    # --- broken containers ---
    good = make_video(d / "base.mp4", duration=3.0, size=(96, 64), fps=10)
    fast = make_video(d / "base_fast.mp4", duration=3.0, size=(96, 64), fps=10, extra=["-movflags", "+faststart"])
    truncate(good, d / "cut_no_moov.mp4", 0.9)
    add(Case("truncated_moov_missing", "cut_no_moov.mp4", "mp4 cut at 90 %: the moov atom (at the end) is lost",
             "error", "MediaError", "cannot be read as audio or video"))
    truncate(good, d / "cut_header.mp4", 0.005)
    add(Case("truncated_in_header", "cut_header.mp4", "mp4 cut inside its first atoms", "error", "MediaError",
             "cannot be read as audio or video"))
    truncate(fast, d / "cut_half_faststart.mp4", 0.5)
    add(Case("truncated_half_faststart", "cut_half_faststart.mp4", "faststart mp4 cut at 50 %: index intact, "
             "half the data missing", "ok", checks={**ok_av, "notes": "the file looks truncated"}))
    truncate(fast, d / "cut_late_faststart.mp4", 0.97)
    add(Case("truncated_tail_faststart", "cut_late_faststart.mp4", "faststart mp4 missing its last 3 %", "ok",
             checks={**ok_av}))
    _corrupt_middle(fast, d / "corrupt_middle.mp4", rng)
    add(Case("corrupted_frames", "corrupt_middle.mp4", "random bytes over a quarter of the frames in the middle",
             "ok", checks={**ok_av, "duration": 3.0}))
    (d / "polyglot_zip.mp4").write_bytes(good.read_bytes() + _zip_bytes(d))
    add(Case("polyglot_mp4_zip", "polyglot_zip.mp4", "a valid mp4 that is also a valid ZIP archive (zip appended)",
             "ok", checks={**ok_av, "duration": 3.0}))
    (d / "polyglot_html.mp4").write_bytes(b"<html><script>alert('x')</script></html>\n" + good.read_bytes())
    add(Case("polyglot_html_prefix", "polyglot_html.mp4", "HTML with a script, then an mp4's bytes (FFmpeg "
             "guesses MPEG audio)", "error", "MediaError", "damaged or truncated"))
    return cases


def _zip_bytes(d: Path) -> bytes:
    z = d / "payload.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("readme.txt", "this archive hides at the end of a video")
    data = z.read_bytes()
    z.unlink()
    return data


def _stream_cases(d: Path) -> list[Case]:
    cases = []
    add = cases.append
    make_audio(d / "tone.wav", 2.0)
    add(Case("audio_only_wav", "tone.wav", "WAV audio, no picture", "ok",
             checks={"has_audio": True, "has_video": False, "duration": 2.0}, app=None))
    make_audio(d / "tone_mp3.mp3", 2.0)
    add(Case("audio_only_mp3", "tone_mp3.mp3", "MP3 audio, no picture", "ok", checks={"has_audio": True, "has_video": False}))
    make_video(d / "no_audio.mp4", 2.0, size=(96, 64), fps=10, audio=None)
    add(Case("video_no_audio", "no_audio.mp4", "video without an audio stream", "ok",
             checks={"has_audio": False, "has_video": True, "speech": False}, app="has no sound track"))
    make_video(d / "silence.mp4", 2.0, size=(96, 64), fps=10, audio="silence")
    add(Case("digital_silence", "silence.mp4", "an audio stream of pure silence", "ok",
             checks={"has_audio": True, "speech": False, "audio_used": False}))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10:duration=4", "-f", "lavfi", "-i", MUSIC.format(d=4),
           "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", d / "music.mp4")
    add(Case("music_no_speech", "music.mp4", "a chord with a moving bass line, no words", "ok",
             checks={**{"has_audio": True}, "speech": False, "audio_used": True}))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10:duration=2", "-f", "lavfi", "-i",
           "sine=frequency=300:sample_rate=48000:duration=2", "-af", "pan=5.1|FL=c0|FR=c0|FC=c0|LFE=c0|BL=c0|BR=c0",
           "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", d / "surround51.mp4")
    add(Case("audio_5_1", "surround51.mp4", "5.1 audio (6 channels)", "ok", checks={"has_audio": True, "channels": 6}))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10:duration=2", "-f", "lavfi", "-i",
           "sine=frequency=300:sample_rate=48000:duration=2",
           "-af", "pan=7.1|FL=c0|FR=c0|FC=c0|LFE=c0|BL=c0|BR=c0|SL=c0|SR=c0",
           "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "flac", d / "surround71.mkv")
    add(Case("audio_8_channels", "surround71.mkv", "7.1 audio (8 channels, FLAC in Matroska)", "ok",
             checks={"has_audio": True, "channels": 8}))
    _float_wav(d / "nan.wav", [float("nan"), float("inf"), -float("inf")] * 4000 + [0.1] * 4000)
    add(Case("nan_samples", "nan.wav", "float WAV, 3/4 of its samples NaN or infinite", "ok",
             checks={"has_audio": True, "has_video": False, "notes": "not numbers (NaN or infinite)"}))
    _float_wav(d / "huge.wav", [1e30 * math.sin(i / 5) for i in range(32000)])
    add(Case("huge_samples", "huge.wav", "float WAV with samples of 1e30 (far outside [-1, 1])", "ok",
             checks={"has_audio": True, "audio_used": True}))
    wav = _float_wav(d / "lying_header.wav", [0.0] * 16000)
    data = bytearray(wav.read_bytes())
    data[-16000 * 4 - 4:-16000 * 4] = struct.pack("<I", 0xFFFFFFF0)  # data chunk claims 4 GB
    wav.write_bytes(bytes(data))
    add(Case("wav_header_claims_4gb", "lying_header.wav", "WAV whose data chunk claims 4 GB but holds 1 s", "ok",
             checks={"has_audio": True}))
    return cases


def _picture_cases(d: Path) -> list[Case]:
    cases = []
    add = cases.append
    make_video(d / "one_frame.mp4", 0.04, size=(96, 64), fps=25, audio=None, extra=["-frames:v", "1"])
    add(Case("one_frame", "one_frame.mp4", "a video of a single frame, no sound", "ok",
             checks={"has_video": True}, app="has no sound track"))
    make_video(d / "short.mp4", 0.2, size=(96, 64), fps=25)
    add(Case("very_short_0_2s", "short.mp4", "0.2 s of video and sound", "ok", checks={"has_video": True, "duration": 0.2}))
    make_video(d / "long.mp4", LONG_SECONDS, size=(16, 16), fps=1, audio="silence", channels=1, audio_rate=8000,
               extra=["-preset", "ultrafast", "-b:a", "8k"])
    add(Case("thirty_minutes", "long.mp4", "30 minutes (16x16, 1 fps), longer than the limit", "error",
             "AnalysisError", "longer than the allowed", options={"max_seconds": MAX_SECONDS},
             app="this demo analyses up to"))
    make_video(d / "uhd.mp4", 0.5, size=(3840, 2160), fps=10, extra=["-preset", "ultrafast"])
    add(Case("4k", "uhd.mp4", "3840x2160 picture", "ok", checks={"width": 3840, "height": 2160}))
    make_video(d / "tiny.mp4", 2.0, size=(16, 16), fps=10)
    add(Case("16x16", "tiny.mp4", "16x16 pixels", "ok", checks={"width": 16, "height": 16}))
    make_video(d / "odd.mp4", 1.0, size=(33, 17), fps=10, source="testsrc", extra=["-pix_fmt", "yuv444p"])
    add(Case("odd_size", "odd.mp4", "33x17 pixels (odd sizes, 4:4:4 chroma)", "ok", checks={"width": 33, "height": 17}))
    make_video(d / "thin.mp4", 1.0, size=(640, 2), fps=10, source="testsrc", extra=["-pix_fmt", "yuv444p"])
    add(Case("extreme_aspect", "thin.mp4", "640x2 pixels (aspect ratio 320:1)", "ok", checks={"width": 640, "height": 2}))
    rotate(d / "base.mp4", d / "rotated.mp4", 90)
    add(Case("rotated_90", "rotated.mp4", "phone video: display matrix turns 96x64 by 90 degrees", "ok",
             checks={"rotation": 90, "width": 64, "height": 96}))
    from mediagen import make_vfr_video

    make_vfr_video(d / "vfr.mp4")
    add(Case("variable_frame_rate", "vfr.mp4", "30 fps then 2 fps, no sound", "ok", checks={"has_audio": False},
             app="has no sound track"))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=5:duration=1", d / "animated.gif")
    add(Case("animated_gif", "animated.gif", "an animated GIF (a picture track, no sound)", "ok",
             checks={"has_video": True, "has_audio": False}, app="has no sound track"))
    make_video(d / "fast.mp4", 0.5, size=(32, 32), fps=1000)
    add(Case("1000_fps", "fast.mp4", "1000 frames per second", "ok", checks={"fps": 1000}))
    make_video(d / "as_mkv.mp4", 2.0, size=(96, 64), fps=10, vcodec="libvpx-vp9", acodec="libopus",
               extra=["-f", "matroska"])
    add(Case("mkv_named_mp4", "as_mkv.mp4", "Matroska VP9/Opus with an .mp4 name", "ok", checks={**{"has_audio": True}}))
    write_pipe_webm(d / "no_duration.webm", 2.0)
    add(Case("webm_without_duration", "no_duration.webm", "WebM written to a pipe: no duration in its header", "ok",
             checks={"duration": 2.0}))
    return cases


def _speech_cases(d: Path) -> list[Case]:
    cases = []
    add = cases.append
    seconds = _espeak(SPEECH_DE, d / "de.wav", "de")
    make_video(d / "german.mp4", seconds + 0.3, size=(96, 64), fps=10, audio=d / "de.wav")
    add(Case("non_english_speech", "german.mp4", "German speech (espeak-ng)", "ok",
             checks={"speech": True, "language": "de", "words": ["morgen"]}))
    seconds = _espeak(SPEECH_EN, d / "en.wav")
    ffmpeg("-i", d / "en.wav", "-f", "lavfi", "-i", MUSIC.format(d=seconds), "-filter_complex",
           "[1:a]volume=0.3[m];[0:a][m]amix=inputs=2:duration=first", "-ar", "16000", d / "en_music.wav")
    make_video(d / "speech_music.mp4", seconds, size=(96, 64), fps=10, audio=d / "en_music.wav")
    add(Case("speech_over_music", "speech_music.mp4", "English speech with music underneath", "ok",
             checks={"speech": True, "words": ["lovely", "brother"]}))
    make_video(d / WEIRD_NAME, seconds, size=(96, 64), fps=10, audio=d / "en.wav")
    add(Case("weird_file_name", WEIRD_NAME, "spaces, quotes, brackets and non-ASCII in the name", "ok",
             checks={"speech": True, "words": ["lovely", "brother"]}))
    add(Case("traversal_to_video", "sub/../" + WEIRD_NAME, "a path with '..' that resolves to a video", "ok",
             checks={"speech": True}))
    picture = ["-f", "lavfi", "-i", f"testsrc2=size=96x64:rate=10:duration={seconds:.2f}"]
    ffmpeg(*picture, "-f", "lavfi", "-i", f"anullsrc=sample_rate=16000:duration={seconds:.2f}", "-i", d / "en.wav",
           "-map", "0:v", "-map", "1:a", "-map", "2:a", "-disposition:a:0", "0", "-disposition:a:1", "default",
           "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", d / "two_tracks.mp4")
    add(Case("two_audio_tracks", "two_tracks.mp4", "a silent first audio track, the speech on the second (default)",
             "ok", checks={"speech": True, "words": ["lovely", "brother"], "notes": "2 audio tracks: track 2"}))
    ffmpeg(*picture, "-i", d / "en.wav", "-af", "pan=stereo|c0=c0|c1=-1*c0", "-c:v", "libx264", "-preset", "veryfast",
           "-pix_fmt", "yuv420p", "-c:a", "pcm_s16le", d / "out_of_phase.mov")
    add(Case("stereo_out_of_phase", "out_of_phase.mov", "stereo whose right channel is the left one inverted "
             "(a miswired microphone): silence when mixed to mono", "ok",
             checks={"speech": True, "words": ["lovely", "brother"], "notes": "channels cancel out"}))
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=96x64:rate=10:duration={seconds + 3:.2f}", "-i", d / "en.wav",
           "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "libopus", d / "short_sound.mkv")
    garble_picture(d / WEIRD_NAME, d / "garbled_picture.mkv")
    add(Case("picture_undecodable", "garbled_picture.mkv", "speech beside a picture no decoder reads (its packets "
             "random bytes)", "ok", checks={"has_video": False, "speech": True, "words": ["today", "brother"],
                                            "notes": "picture (h264) can't be decoded"}))
    garble_picture(d / WEIRD_NAME, d / "picture_damaged_midway.mkv", start=1.0)
    add(Case("picture_damaged_midway", "picture_damaged_midway.mkv", "speech beside a picture whose data is random "
             "bytes from 1 s on", "ok", checks={"has_video": True, "speech": True, "words": ["today", "brother"],
                                                "notes": "s to the end: its data is damaged there"}))
    garble_picture(d / WEIRD_NAME, d / "garbled_picture_alone.mkv", sound=False)
    add(Case("picture_undecodable_no_sound", "garbled_picture_alone.mkv", "a picture no decoder reads, no sound",
             "error", "MediaError", "its video stream has no decodable picture"))
    add(Case("mkv_sound_ends_early", "short_sound.mkv", "Matroska whose sound ends 3 s before its picture "
             "(the track's length only in a tag)", "ok",
             checks={"speech": True, "words": ["lovely"], "not_notes": "looks truncated"}))
    for name in ("de.wav", "en.wav", "en_music.wav"):
        (d / name).unlink()
    return cases


def _subtitle_cases(d: Path) -> list[Case]:
    cases = []
    add = cases.append
    make_video(d / "for_subs.mp4", 2.0, size=(96, 64), fps=10)
    (d / "malformed.srt").write_text("1\n00:00:00,000 -> 00:00:01,000\nThe arrow is wrong.\n")
    add(Case("subtitles_malformed", "for_subs.mp4", "an SRT whose time line does not parse", "error", "SubtitleError",
             "expected a time line", options={"subtitles": "malformed.srt"}))
    (d / "backwards.srt").write_text("1\n00:00:01,500 --> 00:00:00,500\nTime runs backwards.\n")
    add(Case("subtitles_end_before_start", "for_subs.mp4", "a cue that ends before it starts", "error",
             "SubtitleError", "ends (0.500 s) before it starts", options={"subtitles": "backwards.srt"}))
    (d / "too_long.srt").write_text("1\n00:00:00,100 --> 00:00:01,500\nThe parrot sings loudly.\n\n"
                                    "2\n00:01:40,000 --> 00:01:45,000\nThis line comes after the end.\n")
    add(Case("subtitles_longer_than_video", "for_subs.mp4", "cues up to 105 s on a 2 s video", "ok",
             checks={"speech": True, "words": ["parrot"], "not_words": ["after"], "duration": 2.0,
                     "notes": "were left out: 1 of 2 in too_long.srt (the first at 100.0 s"},
             options={"subtitles": "too_long.srt"}))
    # one cue of two speakers: two utterances, counted as the one cue it is
    (d / "all_late.vtt").write_text("WEBVTT\n\n01:00.000 --> 01:02.000\n<v Ann>The wrong programme.\n<v Bob>Indeed.\n")
    add(Case("subtitles_all_after_the_end", "for_subs.mp4", "every cue after the end of the video", "ok",
             checks={"speech": False, "notes": "were left out: 1 of 1 in all_late.vtt"},
             options={"subtitles": "all_late.vtt"}))
    (d / "binary.srt").write_bytes(bytes(range(256)) * 8)
    add(Case("subtitles_binary", "for_subs.mp4", "a subtitle file of binary junk", "error", "SubtitleError",
             "not a text file (no text encoding reads its bytes)", options={"subtitles": "binary.srt"}))
    return cases


def make_corpus(folder: str | Path) -> list[Case]:
    """Write every input into ``folder`` (created) and return the cases, in a fixed order."""
    d = Path(folder)
    (d / "sub").mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    cases = _media_cases(d, rng) + _stream_cases(d) + _picture_cases(d) + _speech_cases(d) + _subtitle_cases(d)
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    (d / "cases.json").write_text(json.dumps([asdict(c) for c in cases], indent=1, ensure_ascii=False))
    return cases


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.exit("usage: python tests/badinputs.py OUTDIR  (writes the hostile inputs into OUTDIR and lists them)")
    for c in make_corpus(sys.argv[1]):
        print(f"{c.name:28s} {c.expect:5s} {c.error or '':14s} {c.what}")
