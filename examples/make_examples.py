"""Make the demo's example videos: espeak-ng speech over coloured slides that show the words.

Each video is a sequence of slides, one per sentence, on a plain coloured background with a title
and the sentence being spoken (beside a portrait photograph, for ``mission_day``); the sound track
is espeak-ng speech with short pauses between the sentences. Encoding uses the ffmpeg binary of
imageio-ffmpeg (no system ffmpeg needed): H.264 at a low frame rate for a still picture plus mono
AAC, a few hundred KB at most per video.

    python examples/make_examples.py                 # (re)writes examples/*.mp4
    python examples/make_examples.py italian_news    # (re)writes only the examples named
    python examples/make_examples.py --long talk.mp4 # also a 60 s talking video for timing the app

Tests import :func:`make_video` to generate their media at test time.

``portrait.jpg`` is cropped from NASA's photograph of the astronaut Eileen Collins (public domain,
as shipped in scikit-image's ``skimage.data.astronaut``): a real face for the face branch.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import textwrap
import wave
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
FRAME_SIZE = (640, 360)  # pixels, width x height
FPS = 10  # frames per second (the picture only changes between sentences)
LEAD_IN_S = 0.4  # seconds of silence before the first sentence
PAUSE_S = 0.7  # seconds of silence between sentences
TAIL_S = 0.4  # seconds of silence after the last sentence
VOICE = "en-us"  # espeak-ng voice
WORDS_PER_MINUTE = 150  # espeak-ng speed
CRF = 30  # x264 quality (higher: smaller file)
AUDIO_BITRATE = "48k"  # AAC bit rate of the mono sound track
TITLE_PX, TEXT_PX = 30, 34  # font sizes in pixels
WRAP_CHARS = 32  # characters per line of the sentence on a slide
ESPEAK_TIMEOUT_S = 60  # seconds allowed for one sentence
FFMPEG_TIMEOUT_S = 300  # seconds allowed for one encode


@dataclass(frozen=True)
class Script:
    """What one example video says and how it looks."""

    name: str  # file stem: examples/<name>.mp4
    title: str  # shown at the top of every slide
    colour: tuple[int, int, int]  # background RGB
    sentences: tuple[str, ...]  # spoken one after the other, one slide each
    portrait: str = ""  # an image in examples/ shown beside the sentences ("": none)
    voice: str = VOICE  # espeak-ng voice, which says the language


EXAMPLES = (
    Script("happy_news", "Good news", (46, 125, 50), (
        "I got the job!",
        "This is the best day of my life, I am so happy.",
        "Thank you all so much, this is wonderful.",
    )),
    Script("broken_promise", "A broken promise", (183, 28, 28), (
        "You promised me you would fix it.",
        "I am furious, this is the third time you lied to me.",
        "Get out of my office right now!",
    )),
    Script("sad_goodbye", "Goodbye, old friend", (21, 67, 140), (
        "My old dog died this morning.",
        "I miss him so much, the house feels empty.",
        "I cannot stop crying.",
    )),
    Script("mission_day", "Mission day", (38, 50, 56), (
        "Today I fly to space for the first time.",
        "I have dreamed of this since I was a little girl.",
        "I am so proud and so happy.",
    ), portrait="portrait.jpg"),
    Script("italian_news", "Buone notizie", (0, 121, 107), (  # Italian: translated into English for the words
        "Ho trovato lavoro!",
        "Oggi è il giorno più bello della mia vita, sono così felice.",
        "Grazie a tutti, è meraviglioso.",
    ), voice="it"),
)

LONG_TALK = Script("talk_60s", "A long day", (69, 39, 160), (
    "Good morning everyone, and thank you for coming today.",
    "I want to tell you about the strangest week of my life.",
    "On Monday my car broke down on the highway in the pouring rain.",
    "I was cold, I was late, and honestly I was furious.",
    "Then a stranger stopped and helped me push it off the road.",
    "He would not even tell me his name, he just smiled and drove away.",
    "I still think about him every single time it rains.",
    "On Wednesday I learned that my grandmother was very ill.",
    "I sat in the hospital all night, scared and alone.",
    "But on Friday the doctors said she would recover completely.",
    "I cried with relief, I have never been so happy.",
    "So what did I learn this week?",
    "People are kind, life is fragile, and every day is a gift.",
    "Thank you for listening, and enjoy the rest of the conference.",
))


def speak(text: str, wav_path: Path, voice: str = VOICE, wpm: int = WORDS_PER_MINUTE) -> tuple[np.ndarray, int]:
    """Synthesise ``text`` with espeak-ng; returns (int16 mono samples, shape (n,), sample rate in Hz)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed: apt-get install espeak-ng")
    subprocess.run([exe, "-v", voice, "-s", str(wpm), "-w", str(wav_path), text],
                   check=True, capture_output=True, timeout=ESPEAK_TIMEOUT_S)
    with wave.open(str(wav_path), "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise RuntimeError(f"{wav_path}: expected 16-bit mono from espeak-ng")
        return np.frombuffer(w.readframes(w.getnframes()), np.int16), w.getframerate()


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)  # Pillow's embedded scalable font: no system fonts needed


def draw_slide(title: str, sentence: str, colour: tuple[int, int, int], path: Path, portrait: str = "") -> Path:
    """A FRAME_SIZE PNG: the title at the top, the sentence wrapped in the middle (in the right half,
    beside the portrait, when there is one)."""
    img = Image.new("RGB", FRAME_SIZE, colour)
    d = ImageDraw.Draw(img)
    w, h = FRAME_SIZE
    d.text((w / 2, 40), title, font=_font(TITLE_PX), fill=(255, 255, 255, 200), anchor="mm")
    d.line([(w * 0.2, 70), (w * 0.8, 70)], fill=(255, 255, 255), width=2)
    centre, wrap = w / 2, WRAP_CHARS
    if portrait:
        with Image.open(HERE / portrait) as face:
            face = face.convert("RGB")
            img.paste(face, (24, h - face.height - 10))
            centre, wrap = (24 + face.width + w) / 2, WRAP_CHARS // 2
    body = "\n".join(textwrap.wrap(sentence, wrap))
    d.multiline_text((centre, h / 2 + 20), body, font=_font(TEXT_PX), fill=(255, 255, 255),
                     anchor="mm", align="center", spacing=10)
    img.save(path)
    return path


def make_video(path: str | Path, sentences: list[str] | tuple[str, ...], title: str = "",
               colour: tuple[int, int, int] = (40, 40, 40), voice: str = VOICE,
               wpm: int = WORDS_PER_MINUTE, portrait: str = "",
               pause_s: float = PAUSE_S) -> list[tuple[float, float]]:
    """Write an MP4 of ``sentences`` spoken over slides, ``pause_s`` of silence between two; returns each
    sentence's (start, end) in seconds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mmsent-example-") as tmp:
        tmp = Path(tmp)
        clips, rate = [], None
        for i, text in enumerate(sentences):
            samples, rate = speak(text, tmp / f"s{i}.wav", voice, wpm)
            clips.append(samples)
        spans, audio = _join(clips, rate, pause_s)
        audio_path = tmp / "speech.wav"
        with wave.open(str(audio_path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(audio.tobytes())
        total = len(audio) / rate
        _encode(_slide_list(tmp, title, sentences, colour, spans, total, portrait), audio_path, path)
    return spans


def _join(clips: list[np.ndarray], rate: int,
          pause_s: float = PAUSE_S) -> tuple[list[tuple[float, float]], np.ndarray]:
    """Concatenate the clips with silence around them; returns the spans (s) and the samples."""
    parts, spans, t = [np.zeros(int(LEAD_IN_S * rate), np.int16)], [], LEAD_IN_S
    for i, clip in enumerate(clips):
        spans.append((t, t + len(clip) / rate))
        t += len(clip) / rate
        pause = pause_s if i < len(clips) - 1 else TAIL_S
        parts += [clip, np.zeros(int(pause * rate), np.int16)]
        t += int(pause * rate) / rate
    return spans, np.concatenate(parts)


def _slide_list(tmp: Path, title: str, sentences, colour, spans, total: float, portrait: str = "") -> Path:
    """An ffmpeg concat list: each slide from its sentence's start (the first from 0) to the next one's."""
    starts = [0.0] + [s for s, _ in spans[1:]]
    ends = starts[1:] + [total]
    lines = []
    for i, (text, start, end) in enumerate(zip(sentences, starts, ends)):
        png = draw_slide(title, text, colour, tmp / f"slide{i}.png", portrait)
        lines += [f"file '{png.name}'", f"duration {end - start:.3f}"]
    lines.append(f"file '{png.name}'")  # the concat demuxer needs the last file twice
    listing = tmp / "slides.txt"
    listing.write_text("\n".join(lines) + "\n")
    return listing


def _encode(listing: Path, audio: Path, out: Path) -> None:
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error",
        "-f", "concat", "-safe", "0", "-i", str(listing), "-i", str(audio),
        "-vf", f"fps={FPS},format=yuv420p", "-c:v", "libx264", "-preset", "slow", "-tune", "stillimage",
        "-crf", str(CRF), "-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ac", "1",
        "-shortest", "-movflags", "+faststart", str(out),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=FFMPEG_TIMEOUT_S)
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg failed to write {out}: {result.stderr.strip()[-500:]}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", type=Path, default=HERE, help="folder of the example videos")
    p.add_argument("--long", type=Path, default=None, help="also write the 60 s talking video here")
    p.add_argument("names", nargs="*", metavar="NAME", help="only these examples (default: all; none with --long)")
    args = p.parse_args(argv)
    unknown = set(args.names) - {s.name for s in EXAMPLES}
    if unknown:
        p.error(f"no example named {', '.join(sorted(unknown))}: choose from {', '.join(s.name for s in EXAMPLES)}")
    wanted = set(args.names) if args.names or args.long is not None else {s.name for s in EXAMPLES}
    for s in EXAMPLES:
        if s.name not in wanted:
            continue
        out = args.out / f"{s.name}.mp4"
        spans = make_video(out, s.sentences, s.title, s.colour, voice=s.voice, portrait=s.portrait)
        print(f"{out}: {spans[-1][1] + TAIL_S:.1f} s, {out.stat().st_size / 1024:.0f} KB")
    if args.long is not None:
        spans = make_video(args.long, LONG_TALK.sentences, LONG_TALK.title, LONG_TALK.colour)
        print(f"{args.long}: {spans[-1][1] + TAIL_S:.1f} s, {args.long.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
