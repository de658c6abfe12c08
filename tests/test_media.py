"""mmsent.media on generated files of every container the app accepts, on the real RAVDESS clip, and on broken files."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import warnings

import av
import av.logging
import numpy as np
import pytest
import mediagen
from mediagen import (
    dubbed_video,
    make_audio,
    make_header_lying_aac,
    make_two_colour_video,
    make_vfr_video,
    ffmpeg,
    garble_picture,
    make_video,
    rotate,
    talking_video,
    truncate,
    write_pipe_webm,
)

from mmsent import media
from mmsent import probe as probing
from mmsent.media import MediaError, load_audio, load_frames, probe

RATE = media.SAMPLE_RATE
SPANS = [(0.0, 0.9), (1.0, 1.9)]  # two spans of the 2 s test videos
CONTAINERS = {  # name: (file name, size, video codec, audio codec as decoded)
    "mp4-h264-aac": ("a.mp4", (320, 240), "h264", "aac"),
    "webm-vp9-opus": ("a.webm", (160, 120), "vp9", "opus"),
    "mov-h264-aac": ("a.mov", (320, 240), "h264", "aac"),
    "mkv-h264-opus": ("a.mkv", (320, 240), "h264", "opus"),
    "avi-mpeg4-mp3": ("a.avi", (320, 240), "mpeg4", "mp3"),
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("media")


def dominant_hz(audio: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.argmax(spectrum) * RATE / len(audio))


def check_sine_track(audio: np.ndarray, seconds: float) -> None:
    """16 kHz mono float32 of the generated 440 Hz tone (amplitude 1/8), as long as the video."""
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) / RATE - seconds) < 0.1
    assert abs(dominant_hz(audio) - 440) < 3  # a wrong rate or channel mix would move or kill the tone
    assert 0.06 < np.sqrt(np.mean(audio ** 2)) < 0.11


@pytest.mark.parametrize("name", CONTAINERS)
def test_container_matrix(folder, name):
    file, size, vcodec, acodec = CONTAINERS[name]
    path = make_video(folder / file, duration=2.0, size=size)
    info = probe(path)
    assert info.has_audio and info.has_video
    assert abs(info.duration - 2.0) < 0.1
    assert (info.width, info.height, info.rotation) == (*size, 0)
    assert info.fps == pytest.approx(25, abs=0.1)
    assert info.video_codec == vcodec and info.audio_codec.startswith(acodec) and info.audio_channels == 2
    check_sine_track(load_audio(path), 2.0)
    frames = load_frames(path, SPANS, n=4)
    assert frames.dtype == np.uint8 and frames.shape == (2, 4, 128, round(128 * size[0] / size[1]), 3)
    steps = np.abs(np.diff(frames.astype(np.int16), axis=1)).mean(axis=(2, 3, 4))
    assert (steps > 1).all()  # testsrc2 moves: frames spread across a span all differ


def test_mp4_without_audio(folder):
    path = make_video(folder / "silent_film.mp4", audio=None)
    info = probe(path)
    assert not info.has_audio and info.audio_channels is None and info.has_video
    assert load_audio(path) is None
    assert load_frames(path, SPANS, n=2).shape == (2, 2, 128, 171, 3)
    stop = threading.Event()
    stop.set()
    assert load_frames(path, SPANS, n=2, stop=stop) is None  # cancelled: the analysis failed, as faces.FaceGrid.read


def test_surround_51_is_downmixed(folder):
    path = make_video(folder / "surround.mp4", channels=6)
    assert probe(path).audio_channels == 6
    check_sine_track(load_audio(path), 2.0)


def test_layout_change_inside_stream(folder):
    """Stereo then 5.1 in one AAC stream whose header says stereo: all of it is decoded."""
    path = make_header_lying_aac(folder / "lying.aac", seconds=1.0)
    assert probe(path).audio_channels == 2
    audio = load_audio(path)
    assert abs(len(audio) / RATE - 2.0) < 0.15
    for half in (audio[: RATE // 2], audio[-RATE // 2:]):
        assert np.sqrt(np.mean(half ** 2)) > 0.05 and abs(dominant_hz(half) - 440) < 5


@pytest.mark.parametrize("width, kind", [(1, np.uint8), (2, np.int16), (4, np.int32)])
@pytest.mark.parametrize("channels", [9, 32])
def test_channels_in_no_known_order_are_averaged(folder, width, kind, channels):
    """A WAV of 9 or 32 channels that names no order for them (a multitrack recorder's, an ambisonic microphone's;
    FFmpeg mixes no such file of 9, 11, 13, 15, 17 or more channels) was refused: "its audio cannot be converted
    to mono (Invalid argument); re-export the file". Their mean is the sound."""
    import wave

    path, rate = folder / f"tracks{channels}_{width}.wav", 22050
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)
    zero, full = (128, 127) if kind is np.uint8 else (0, np.iinfo(kind).max)
    silent = np.zeros(rate)
    tracks = np.stack([tone, silent, -tone, *[tone] * (channels - 3)], 1)  # one silent, one the tone upside down
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels), w.setsampwidth(width), w.setframerate(rate)
        w.writeframes((zero + tracks * full).round().astype(kind).tobytes())
    audio = load_audio(path)
    mean = np.interp(np.arange(RATE) / RATE, np.arange(rate) / rate, tone) * (channels - 3) / channels
    assert len(audio) == RATE and np.abs(audio[200:-200] - mean[200:-200]).max() < 0.01


@pytest.mark.parametrize("file,rate,channels", [("tone.wav", 16000, 1), ("tone.mp3", 44100, 2),
                                                ("tone.flac", 48000, 1), ("tone.m4a", 22050, 2),
                                                ("tone.wma", 48000, 1)])  # was "cannot be converted to mono"
def test_audio_only_files(folder, file, rate, channels):
    path = make_audio(folder / file, duration=2.0, rate=rate, channels=channels)
    info = probe(path)
    assert info.has_audio and not info.has_video and info.width is None and info.fps is None
    assert (info.audio_rate, info.audio_channels) == (rate, channels)
    check_sine_track(load_audio(path), 2.0)
    with pytest.raises(MediaError, match=f"{file}.*no video stream"):
        load_frames(path, SPANS)


def test_probing_is_its_own_module_and_media_reexports_it():
    """mmsent.probe holds what a file is (probe, MediaInfo, MediaError); media decodes and re-exports them."""
    assert (media.probe, media.MediaInfo, media.MediaError) == (probing.probe, probing.MediaInfo, probing.MediaError)
    assert media._open is probing._open  # one way to open a file, with one set of checks and messages
    assert not hasattr(probing, "load_audio") and not hasattr(probing, "load_frames")


def test_real_ravdess_clip(shared_data):
    path = shared_data / "clips" / "ravdess_01-01-01-01-01-01-01.mp4"  # clips/ also holds MELD clips
    info = probe(path)
    assert (info.width, info.height, info.has_audio) == (1280, 720, True)
    assert 3.0 < info.duration < 3.6 and info.fps == pytest.approx(29.97, abs=0.05)
    audio = load_audio(path)
    assert abs(len(audio) / RATE - info.duration) < 0.1 and np.abs(audio).max() > 0.01
    frames = load_frames(path, [(0.0, info.duration)], n=16)
    assert frames.shape == (1, 16, 128, 228, 3)
    assert frames.std() > 10  # a real picture, not a blank one


def test_real_ravdess_flac(shared_data):
    path = min((shared_data / "ravdess").rglob("*.flac"))
    info = probe(path)
    audio = load_audio(path)
    assert not info.has_video and info.audio_rate == 16000
    assert abs(len(audio) / RATE - info.duration) < 0.05 and np.abs(audio).max() > 0.01


def test_colours_are_rgb(folder):
    path = make_video(folder / "red.mp4", source="color=c=red", audio=None, size=(64, 48))
    r, g, b = load_frames(path, [(0.0, 1.0)], n=2)[..., :].reshape(-1, 3).mean(axis=0)
    assert r > 200 and g < 40 and b < 40


@pytest.mark.parametrize("degrees,top,bottom", [(90, "red", "blue"), (270, "blue", "red"), (180, "blue", "red")])
def test_rotation_is_applied(folder, degrees, top, bottom):
    """Red left half, blue right half, turned clockwise for display as a phone's metadata asks."""
    src = make_two_colour_video(folder / f"upright{degrees}.mp4")  # 320x240 stored
    path = rotate(src, folder / f"rotated{degrees}.mp4", degrees)
    info = probe(path)
    assert info.rotation == degrees
    assert (info.width, info.height) == ((240, 320) if degrees != 180 else (320, 240))
    frame = load_frames(path, [(0.0, 1.0)], n=1)[0, 0].astype(int)
    colour = {"red": 0, "blue": 2}
    if degrees == 180:  # upside down: left and right swap
        left, right = frame[:, :20], frame[:, -20:]
        assert left[..., colour["blue"]].mean() > 200 and right[..., colour["red"]].mean() > 200
        return
    assert frame.shape[0] > frame.shape[1] and frame.shape[1] == 128
    assert frame[:20, :, colour[top]].mean() > 200 and frame[-20:, :, colour[bottom]].mean() > 200


def test_a_turned_or_mirrored_picture_is_read_as_ffmpeg_shows_it(folder):
    """A mirrored picture (a front camera's; ``-display_hflip``) was read upside down (PyAV's frame.rotation calls
    a mirror 180 degrees), and no face was found in it. Each rotation, mirrored or not, left to right or top to
    bottom, is read as FFmpeg's own autorotation shows it: the colour of each corner of a four-colour picture."""
    src = folder / "corners.mp4"  # red, green / blue, white: 320x240 stored
    mediagen.ffmpeg("-filter_complex", "color=red:160x120[a];color=lime:160x120[b];color=blue:160x120[c];"
                    "color=white:160x120[d];[a][b]hstack[t];[c][d]hstack[u];[t][u]vstack,trim=duration=1",
                    "-c:v", "libx264", "-pix_fmt", "yuv444p", src)

    def corners(rgb):
        return [tuple(int(v) > 128 for v in rgb[y, x]) for y, x in ((5, 5), (5, -6), (-6, 5), (-6, -6))]

    for degrees in (0, 90, 180, 270):
        for flips in ([], ["-display_hflip"], ["-display_vflip"]):
            path = folder / f"turned{degrees}{''.join(flips)}.mp4"
            mediagen.ffmpeg("-display_rotation", str(degrees), *flips, "-i", src, "-c", "copy", path)
            info = probe(path)
            shown = subprocess.run([mediagen.FFMPEG, "-v", "error", "-i", path, "-frames:v", "1", "-f", "rawvideo",
                                    "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
            shown = np.frombuffer(shown, np.uint8).reshape(info.height, info.width, 3)
            assert corners(load_frames(path, [(0.0, 1.0)], n=1)[0, 0]) == corners(shown), (degrees, flips)


def test_variable_frame_rate_uses_timestamps(folder):
    """30 fps red for 1 s then 2 fps blue for 2 s: frame index / mean fps would pick red at 2 s."""
    path = make_vfr_video(folder / "vfr.mp4")
    frames = load_frames(path, [(0.0, 0.9), (1.5, 3.0), (2.0, 2.2)], n=4).astype(int)
    assert (frames[0, ..., 0] > 200).all() and (frames[0, ..., 2] < 50).all()
    assert (frames[1:, ..., 2] > 200).all() and (frames[1:, ..., 0] < 50).all()


def test_one_frame_video_and_spans_past_the_end(folder):
    path = make_video(folder / "one.mp4", duration=0.04, audio=None)
    frames = load_frames(path, [(0.0, 1.0), (5.0, 6.0)], n=3)
    assert frames.shape == (2, 3, 128, 171, 3)
    assert (frames == frames[0, 0]).all() and frames.std() > 10


def test_webm_without_duration_in_header(folder):
    path = write_pipe_webm(folder / "recorded.webm", duration=2.0)
    with av.open(str(path)) as c:
        assert c.duration is None  # like a browser's MediaRecorder file
    info = probe(path)
    assert abs(info.duration - 2.0) < 0.1 and info.video_codec == "vp9" and info.audio_codec == "opus"
    assert abs(len(load_audio(path)) / RATE - 2.0) < 0.1


def reference_frames(path, times: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Decode every frame with plain PyAV and take, for each time, the last frame shown at or before it."""
    with av.open(str(path)) as c:
        if media.SKIP_LOOP_FILTER:
            c.streams.video[0].codec_context.options = {"skip_loop_filter": "all"}
        decoded = [(f.time, f) for f in c.decode(video=0)]
        starts = np.array([t for t, _ in decoded])
        idx = np.maximum(np.searchsorted(starts, times, side="right") - 1, 0)
        return np.stack([decoded[i][1].reformat(width=size[0], height=size[1], format="rgb24",
                                                interpolation=media.SCALE_INTERPOLATION).to_ndarray() for i in idx])


def test_sparse_spans_match_a_full_decode(folder, monkeypatch):
    """Skipped keyframe intervals and undecoded non-reference pictures change nothing in the result."""
    path = make_video(folder / "gop.mp4", duration=8.0, size=(160, 120), gop=12, audio=None)
    spans = [(0.3, 0.5), (3.9, 4.6), (4.61, 4.62), (7.0, 9.0)]
    decoded, decode = [], media._decode
    monkeypatch.setattr(media, "_decode", lambda *a, **k: (decoded.append(f) or f for f in decode(*a, **k)))
    frames = load_frames(path, spans, n=5)
    assert len(decoded) < 200 / 2  # of 200 frames, most were never decoded
    times = media.sample_times(spans, 5).reshape(-1)
    reference = reference_frames(path, times, (171, 128)).reshape(frames.shape)
    assert np.array_equal(frames, reference)


def test_a_variable_frame_rate_matroska_with_b_pictures_gives_the_picture_shown(folder):
    """Matroska gives each packet the nominal frame rate's duration (40 ms at 25 fps), also where the pictures
    come every 0.5 s: a B-picture shown from 3.0 to 3.5 s was taken to end at 3.04, left undecoded, and the time
    3.3 s got the picture of 2.48 s. A picture is now taken to show until the next one decoded before it."""
    path = folder / "vfr_b.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=4", "-vf",
           "setpts='if(lt(N,50),N*0.04,2+(N-50)*0.5)/TB'", "-fps_mode", "passthrough", "-c:v", "libx264",
           "-preset", "veryfast", "-bf", "2", "-pix_fmt", "yuv420p", path)
    spans = [(0.5, 1.5), (3.1, 3.4), (5.2, 5.9), (10.1, 12.0)]
    frames = load_frames(path, spans, n=4)
    times = media.sample_times(spans, 4).reshape(-1)
    assert np.array_equal(frames, reference_frames(path, times, (171, 128)).reshape(frames.shape))


def test_speech_lies_inside_its_spans(folder):
    """Audio sample 0 is time 0: espeak-ng speech is loud inside the recorded spans, silent between."""
    video = talking_video(folder / "talk.mp4", ["Hello there.", "The weather is nice today."], gap_s=1.0)
    audio = load_audio(video.path)
    assert abs(len(audio) / RATE - video.duration) < 0.1
    for start, end in video.spans:
        assert np.sqrt(np.mean(audio[int(start * RATE):int(end * RATE)] ** 2)) > 0.02
    gap = audio[int((video.spans[0][1] + 0.2) * RATE):int((video.spans[1][0] - 0.2) * RATE)]
    assert np.abs(gap).max() < 0.01


def test_broken_files_name_the_file(folder):
    empty = folder / "empty.mp4"
    empty.write_bytes(b"")
    cut = truncate(make_video(folder / "whole.mp4"), folder / "cut_short.mp4", 0.5)
    text = folder / "notes.mp4"
    text.write_text("these are meeting notes, not a video\n" * 20)
    cases = {empty: "empty", cut: "truncated", text: "not a media file", folder / "missing.mp4": "not found",
             folder / ("long" * 70 + ".mp4"): "can't be opened \\(File name too long\\)"}  # was an OSError
    for path, what in cases.items():
        for call in (probe, load_audio, lambda p: load_frames(p, SPANS)):
            with pytest.raises(ValueError, match=what) as err:
                call(path)
            assert isinstance(err.value, MediaError) and path.name in str(err.value)
    with pytest.raises(MediaError, match="no file given: the path is empty"):  # it said: ".: is a folder"
        probe("")
    for url in ("https://www.youtube.com/watch?v=abc", "rtsp://camera.local/stream"):  # it said, of the first:
        with pytest.raises(MediaError, match="is a web address; mmsent reads files: download") as err:  # "https:/www.
            probe(url)  # youtube.com/watch?v=abc: file not found; check the path.", the address itself mangled
        assert str(err.value).startswith(f"{url}: ")


def test_truncated_but_readable_file_warns(folder):
    """Header first (faststart), data cut: what is there is decoded, with a warning."""
    whole = make_video(folder / "fast.mp4", duration=4.0, size=(160, 120), extra=["-movflags", "+faststart"])
    cut = truncate(whole, folder / "fast_cut.mp4", 0.4)
    with pytest.warns(UserWarning, match="fast_cut.mp4.*truncated"):
        audio = load_audio(cut)
    assert 0.5 < len(audio) / RATE < 3.0


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_after_the_picture_of_a_file_cut_short_the_frames_are_black(folder, suffix):
    """A tester's MELD clip cut in half: its last frame stood in for the missing 2.8 s, and the notes called the
    face in them a still picture. Past the last decoded frame (and a second's slack) frames are now black. Also
    in Matroska, whose tracks give their length as a tag, not in their header (its last frame stayed)."""
    whole = make_video(folder / f"fast_frames{suffix}", duration=4.0, size=(160, 120), audio=None,
                       extra=["-movflags", "+faststart"] if suffix == ".mp4" else [])
    cut = truncate(whole, folder / f"fast_frames_cut{suffix}", 0.4)
    frames = load_frames(cut, [(0.0, 0.5), (3.4, 3.9)], n=4)
    assert frames[0].max() > 0 and frames[1].max() == 0
    assert load_frames(whole, [(3.4, 3.9)], n=4).max() > 0  # the whole file's end is its own picture


def test_where_the_picture_of_a_real_clip_can_t_be_decoded_the_frames_are_black_and_said(shared_data, tmp_path):
    """The RAVDESS actor's clip (keyframes at 0, 0.97, 1.94 and 2.90 s) with the picture's data random from 1.0 s
    (to the end, or to 2.5 s): the face of 1.0 s stood in for the rest of the clip, and the notes called it a
    still picture. Where the last good frame can't still be on screen (a second after it) the frames are now
    black, and ``problems`` says where; so are those the decoder builds on the data lost, until a keyframe."""
    clip = shared_data / "clips" / "ravdess_01-01-01-01-01-01-01.mp4"
    spans = [(k / 4, (k + 1) / 4) for k in range(13)]  # 0-3.25 s, a frame at the centre of each quarter second
    whole = load_frames(clip, spans, n=1, short_side=64)
    assert (whole.reshape(13, -1).max(1) > 0).all()
    for end, black, said in ((float("inf"), range(8, 13), "to the end"),
                             (2.5, range(8, 12), "to 2.9 s")):  # back at the keyframe after the damage
        problems = []
        frames = load_frames(garble_picture(clip, tmp_path / f"damaged_{end}.mkv", False, 1.0, end), spans, n=1,
                             short_side=64, problems=problems)
        assert np.array_equal(frames[:4], whole[:4])  # before the damage, the clip's own frames
        dark = [k for k in range(13) if frames[k].max() == 0]
        assert dark == list(black), dark
        # from the last good frame, at 0.93 or 0.97 s (the decoder may not give the one it held), plus a second
        assert len(problems) == 1 and re.fullmatch(
            rf"The picture can't be decoded from (1.9|2.0) s {said}: its data is damaged there. Nothing is read "
            r"from the picture there \(the sound is\); to have the faces read, re-export the video.", problems[0])


def test_a_sound_track_shorter_than_the_picture_is_not_called_truncated(folder, recwarn):
    """The sound ends 2 s before the picture (a muxing choice, not damage): no "truncated" warning, and
    the audio is the track's own length."""
    video = make_video(folder / "picture4.mp4", duration=4.0, size=(160, 120), audio=None)
    sound = make_video(folder / "sound2.mp4", duration=2.0, size=(160, 120))
    both = folder / "short_sound.mp4"
    ffmpeg("-i", video, "-i", sound, "-map", "0:v", "-map", "1:a", "-c", "copy", both)
    assert probe(both).duration == pytest.approx(4.0, abs=0.1)
    audio = load_audio(both)
    assert len(audio) / RATE == pytest.approx(2.0, abs=0.1)
    assert not [w for w in recwarn if "truncated" in str(w.message)]


def test_a_late_matroska_track_is_not_called_truncated(folder, recwarn):
    """A Matroska track that starts 1.5 s late: its DURATION tag (FFmpeg writes the time of its end) is
    not added to its start, so the whole 1.5 s tone read is not called truncated."""
    late = folder / "late.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10:duration=3", "-itsoffset", "1.5", "-f", "lavfi",
           "-i", "sine=frequency=440:sample_rate=16000:duration=1.5", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           "-c:a", "libopus", late)
    audio = load_audio(late)
    assert len(audio) / RATE == pytest.approx(3.0, abs=0.1)
    assert not [w for w in recwarn if "truncated" in str(w.message)]


def test_a_matroska_file_that_starts_late_lasts_as_long_as_its_sound(folder):
    """A Matroska or WebM file whose clock starts at 3 s (cut from a longer one): its length was taken to be the
    header's Duration, which FFmpeg writes as the time of its end: 3 s too long, a gap after the speech to that time."""
    sound = folder / "tone2s.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000:duration=2", sound)
    for suffix, codec in ((".mka", "flac"), (".webm", "libopus")):
        late = folder / f"late_start{suffix}"
        ffmpeg("-i", sound, "-c:a", codec, "-output_ts_offset", "3", late)
        assert probe(late).duration == pytest.approx(2.0, abs=0.05), suffix
        assert len(load_audio(late)) / RATE == pytest.approx(2.0, abs=0.05), suffix


def test_span_validation(folder):
    path = make_video(folder / "v.mp4", duration=1.0, audio=None, size=(64, 48))
    with pytest.raises(ValueError, match="finite"):
        load_frames(path, [(0.0, float("nan"))])
    assert load_frames(path, [], n=4).shape[:2] == (0, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reversed_span = load_frames(path, [(0.6, 0.2)], n=3)  # end before start: a zero-length span
    assert (reversed_span == reversed_span[0, 0]).all()


def test_pyav_logging_is_off_while_decoding(folder):
    """torchvision's import turns PyAV's Python log callback on; threaded VP9 decoding then deadlocked."""
    path = make_video(folder / "logged.webm", duration=1.0, size=(160, 120))
    av.logging.set_level(av.logging.ERROR)  # what `import torchvision` does
    for _ in range(3):
        assert load_frames(path, [(0.0, 1.0)], n=2).shape[:2] == (1, 2)
    assert av.logging.get_level() is None


def test_span_frames_gives_each_span_as_soon_as_decoded_and_holds_few(folder):
    """span_frames yields every span once, with the frames load_frames gives it, and keeps only the
    spans the decoding is inside: the frames of a long video are never all in memory together."""
    import tracemalloc

    path = make_video(folder / "sixty_spans.mp4", duration=12.0, size=(640, 360))
    spans = [(i * 0.2, i * 0.2 + 0.2) for i in range(60)]
    whole = load_frames(path, spans, n=6, short_side=360)
    size, checksums = whole.nbytes, whole.reshape(60, -1).sum(axis=1, dtype=np.int64)
    del whole
    tracemalloc.start()
    got = {}
    try:
        for i, frames in media.span_frames(path, spans, n=6, short_side=360):
            assert i not in got and frames.shape == (6, 360, 640, 3)
            got[i] = int(frames.sum(dtype=np.int64))  # the frames themselves are dropped, as a caller would
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sorted(got) == list(range(60)) and [got[i] for i in range(60)] == checksums.tolist()
    assert peak < size / 10, f"span_frames held {peak / 1e6:.0f} MB of {size / 1e6:.0f} MB of frames"


@pytest.mark.parametrize("hint", [0, 5_000, 10_000, 100_000])  # no length in the header, short, right, far too long
def test_decoded_chunks_are_joined_whatever_the_header_says(hint):
    """The decoded pieces are written into one buffer sized from the header's length, grown where the
    header says too little; a header that says far more than there is leaves no large spare buffer."""
    rng = np.random.default_rng(0)
    chunks = [rng.standard_normal(int(n)).astype(np.float32) for n in rng.integers(1, 1500, 16)]
    joined = media._joined(iter(chunks), hint)
    np.testing.assert_array_equal(joined, np.concatenate(chunks))
    assert joined.dtype == np.float32 and joined.flags["C_CONTIGUOUS"]
    base = joined.base if joined.base is not None else joined
    assert base.size <= 1.12 * joined.size + 1024


@pytest.mark.parametrize("suffix, codec", [(".mkv", "libopus"), (".mp4", "aac"), (".webm", "libopus")])
def test_a_gap_in_the_sound_s_timestamps_is_silence_and_what_follows_keeps_its_time(folder, recwarn, suffix, codec):
    """A recording that dropped 3 s of sound (a recorder's or a connection's gap: the timestamps jump from 2 s to
    5 s). The sound after the gap was joined to what came before it: a beep at 6-7 s was read at 3-4 s, 3 s out of
    time with the picture and the subtitles, and the file was called truncated. A player plays the gap as silence."""
    gapped = folder / f"gap{suffix}"
    ffmpeg("-f", "lavfi", "-i", "aevalsrc='if(between(t,3,4),0.5*sin(2*PI*1000*t),0)':s=48000:d=4",
           "-af", "asetpts='if(gte(T,2),PTS+3/TB,PTS)'", "-c:a", codec, gapped)
    audio = load_audio(gapped)
    loud = np.flatnonzero(np.abs(audio) > 0.1) / RATE
    assert len(audio) / RATE == pytest.approx(7.0, abs=0.05)
    assert loud[0] == pytest.approx(6.0, abs=0.03) and loud[-1] == pytest.approx(7.0, abs=0.03)
    assert not [w for w in recwarn if "truncated" in str(w.message)]


def test_standard_input_or_a_pipe_is_refused_saying_to_save_the_stream_first(tmp_path, monkeypatch):
    """`... | mmsent analyze -` said "-: file not found; check the path.", and a pipe given by its name (a FIFO,
    /dev/stdin) "is not a regular file; give the path of an audio or video file": neither said that a stream can't be
    read, nor what to do."""
    monkeypatch.chdir(tmp_path)  # no file named "-" here
    fifo = tmp_path / "stream.mp4"
    os.mkfifo(fifo)
    for stream in ("-", fifo):
        with pytest.raises(MediaError, match="mmsent reads a file, not a stream .*save the stream to a file first") as err:
            probe(stream)
        assert str(err.value).startswith(f"{stream}: ")
    (tmp_path / "-").write_bytes(b"")  # a file that is named "-" is that file
    with pytest.raises(MediaError, match="the file is empty"):
        probe("-")


def _loud(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


def test_the_audio_track_chosen_by_number_or_language_is_the_one_read(tmp_path):
    """A dubbed film: track 1 (ger, default) a steady tone, track 2 (eng) speech after 0.5 s of silence, track 3
    (eng, Commentary) silence. Without a choice the player's track is read, as before; a number or a language
    (ISO 639-2 either way, or the two-letter code) reads that track, in probe and load_audio alike."""
    path = dubbed_video(tmp_path / "dubbed.mkv", ["I am so happy to see you again."], commentary=True).path
    lead = slice(0, int(0.4 * RATE))  # the tone alone sounds there
    for choice, name in [(None, "track 1 (ger)"), (1, "track 1 (ger)"), ("de", "track 1 (ger)"),
                         ("deu", "track 1 (ger)"), (2, "track 2 (eng)"), ("eng", "track 2 (eng)"),
                         ("en", "track 2 (eng)"), (3, "track 3 (eng, Commentary)")]:
        info, audio = probe(path, choice), load_audio(path, track=choice)
        assert (info.audio_track, info.audio_tracks, info.audio_chosen) == (name, 3, choice)
        tone, speech = name.startswith("track 1"), name.startswith("track 2")
        assert (_loud(audio[lead]) > 0.05) == tone and (_loud(audio) > 0.05) == (tone or speech), choice
    # a language on two tracks: the one a player plays of them (the first here), the other named
    assert probe(path, "eng").audio_alike == ("track 3 (eng, Commentary)",) and probe(path, 2).audio_alike == ()


@pytest.mark.parametrize("choice", [4, "fr", "fra"])
def test_an_audio_track_the_file_lacks_fails_naming_the_tracks_it_has(tmp_path, choice):
    path = dubbed_video(tmp_path / "talk.mkv", ["Hello there."]).path
    said = (f"talk.mkv: has 2 audio tracks: track 1 (ger, default), track 2 (eng); the audio track asked for, "
            f"{choice!r}, is none of them: choose one by its number (1 to 2) or by the language it is tagged with "
            "(audio_track; --audio-track on the command line, the page's Audio track).")
    for read in (lambda: probe(path, choice), lambda: load_audio(path, track=choice)):
        with pytest.raises(MediaError, match=re.escape(said)):
            read()


def test_an_audio_track_chosen_in_a_file_of_one_or_none(tmp_path):
    """One track: --audio-track 1 reads it; a file without sound is read without, as without a choice."""
    one = make_video(tmp_path / "one.mp4", duration=1.0, audio="sine")
    assert probe(one, 1).audio_track == "track 1" and _loud(load_audio(one, track=1)) > 0.05
    with pytest.raises(MediaError, match=r"has 1 audio track: track 1; the audio track asked for, 2, is not it"):
        probe(one, 2)
    silent = make_video(tmp_path / "silent.mp4", duration=1.0, audio=None)
    assert not probe(silent, "eng").has_audio and load_audio(silent, track=2) is None
