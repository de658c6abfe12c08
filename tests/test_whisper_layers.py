"""The torch copy of the embedded Whisper encoder's first layers (mmsent.whisper_layers), read from the
ASR's own CTranslate2 model.bin: checked against CTranslate2's own encoder on real speech."""

import numpy as np
import pytest
import torch
from faster_whisper import WhisperModel
from torch.nn import functional as F

from mmsent import features, media
from mmsent.asr_models import embedded_model_dir
from mmsent.transcribe import load_backend
from mmsent.whisper_layers import WhisperEncoderLayers, load_layers, read_ct2_variables

from conftest import tiny_whisper


@pytest.fixture(scope="module")
def variables():
    return read_ct2_variables(embedded_model_dir() / "model.bin")


def test_all_layers_in_torch_give_ctranslate2s_states_on_real_speech(variables, shared_data):
    """Six torch layers and the final LayerNorm reproduce CTranslate2's states computed in float32 from
    the same weights, so the parsing and the network are Whisper's; the default's four layers are a
    prefix. (Against the ASR's int8 computation the states agree to a cosine of 0.99-0.997 per frame,
    with a few frames at 0.7-0.85 where int8 meets outliers, depending on the CPU's kernels.)"""
    whisper = WhisperModel(str(embedded_model_dir()), device="cpu", compute_type="float32")
    audio = media.load_audio(sorted((shared_data / "ravdess").rglob("03-01-05-02-*-17.flac"))[0])
    final = features.whisper_states(audio, whisper)  # CTranslate2
    mel = whisper.feature_extractor(np.clip(audio, -1, 1))
    mel = torch.from_numpy(mel[None, :, : min(mel.shape[1] // 2 * 2, 2 * len(final))]).float()
    with torch.inference_mode():
        six = WhisperEncoderLayers(variables, 6)(mel)[0]
        norm = [torch.from_numpy(variables[f"encoder/layer_norm/{k}"].astype(np.float32)) for k in ("gamma", "beta")]
        ours = F.layer_norm(six, (six.shape[1],), *norm)
        four = WhisperEncoderLayers(variables, 4)(mel)[0]
    assert ours.shape == final.shape
    assert F.cosine_similarity(ours, final, dim=1).min() > 0.9999
    assert F.cosine_similarity(four, final, dim=1).mean() < 0.9  # the 4th layer's states are not the last ones
    torch.testing.assert_close(features.whisper_states(audio, whisper, 4), four)  # what training and serving read
    assert load_layers(4) is load_layers(4)  # loaded once per process


def test_a_file_of_another_layout_or_cut_short_is_refused(variables, tmp_path):
    src = (embedded_model_dir() / "model.bin").read_bytes()
    (tmp_path / "v5.bin").write_bytes((5).to_bytes(4, "little") + src[4:1000])
    with pytest.raises(ValueError, match="version 5, this reader knows 6"):
        read_ct2_variables(tmp_path / "v5.bin")
    (tmp_path / "cut.bin").write_bytes(src[: len(src) // 2])
    with pytest.raises(ValueError, match="cut short"):
        read_ct2_variables(tmp_path / "cut.bin")
    with pytest.raises(ValueError, match="the encoder has 6 layers, not 7"):
        WhisperEncoderLayers(variables, 7)


def test_variables_the_converter_wrote_as_aliases_are_read(tmp_path):
    """CTranslate2's converter writes a variable equal to an earlier one as an alias of it (here the
    zero biases and unit LayerNorm gains of a random tiny Whisper, converted for real): the torch layers
    read them and give the Hugging Face encoder's own states."""
    hf, ct2 = tiny_whisper(tmp_path)
    variables = read_ct2_variables(ct2 / "model.bin")
    assert variables["encoder/layer_1/ffn/linear_1/bias"].shape == (64,)  # an alias (all zeros, as the first)
    mel = torch.randn(1, 80, 3000, generator=torch.Generator().manual_seed(0))  # 30 s: all the HF encoder takes
    with torch.inference_mode():
        ours = WhisperEncoderLayers(variables, 1)(mel)
        theirs = hf.model.encoder(mel, output_hidden_states=True).hidden_states[1]
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)


def test_a_batch_gives_each_utterance_the_states_it_has_alone(shared_data, monkeypatch):
    """The pipeline encodes a batch of segments at once (sorted by length, in chunks, padded, masked):
    the same states as one at a time, which is how the training cache computes them."""
    monkeypatch.setattr(features, "WHISPER_CHUNK", 2)  # two chunks: the shortest two, then the longest
    whisper = load_backend("faster-whisper", "base", "cpu").model
    clips = [media.load_audio(p)[:n] for p, n in zip(sorted((shared_data / "ravdess").rglob("*-18.flac"))[:3],
                                                     (16000, 52000, 30000))]
    states, lengths = features.whisper_batch(clips, whisper, 4)
    assert len(set(lengths.tolist())) == 3 and states.shape == (3, max(lengths), features.WHISPER_WIDTH)
    for i, clip in enumerate(clips):
        alone = features.whisper_states(clip, whisper, 4)
        assert len(alone) == lengths[i]
        torch.testing.assert_close(states[i, : lengths[i]], alone, atol=2e-4, rtol=1e-4)
        assert not states[i, lengths[i]:].any()  # zero padding, as states_batch gives


def test_the_voice_bank_layer_comes_from_the_same_pass(shared_data):
    """mean_after: the mean over each utterance's speech (its silence left out) of the states after a
    layer, computed in the pass that gives the head's states (a batch: each utterance as alone)."""
    whisper = load_backend("faster-whisper", "base", "cpu").model
    clips = [media.load_audio(p)[:n] for p, n in zip(sorted((shared_data / "ravdess").rglob("*-17.flac"))[:2],
                                                     (20000, 44000))]
    states, lengths, means = features.whisper_batch(clips, whisper, 4, mean_after=5)
    torch.testing.assert_close((states, lengths), features.whisper_batch(clips, whisper, 4))  # the head's states unchanged
    for i, clip in enumerate(clips):
        five = features.whisper_states(clip, whisper, 5)  # every frame
        first, last = features.speech_span(clip, len(five))
        assert 0 < first < last < len(five)  # RAVDESS clips start and end in silence
        torch.testing.assert_close(means[i], five[first:last].mean(0), atol=2e-4, rtol=1e-4)
    assert not torch.allclose(means[0], states[0, : lengths[0]].mean(0), atol=1e-2)  # another layer's states
    # over MAX_AUDIO_SECONDS only the centre is encoded, and the speech is found in those samples:
    # 1 s of RAVDESS speech 10.5 s into 14 s of near-silence, inside the centre's last second
    rng = np.random.default_rng(0)
    long = 1e-4 * rng.standard_normal(14 * 16000).astype(np.float32)
    long[168000:184000] = clips[1][16000:32000]
    centre = long[32000:192000]
    (_, n, mean), (_, _, mean_centre) = (features.whisper_batch([x], whisper, 4, mean_after=5) for x in (long, centre))
    torch.testing.assert_close(mean, mean_centre)
    five = features.whisper_states(centre, whisper, 5)
    assert features.speech_span(centre, int(n[0]))[0] >= 400  # the speech, not the silence before it
    assert not torch.allclose(mean[0], five.mean(0), atol=1e-2)
    with pytest.raises(ValueError, match="needs the torch layers"):
        features.whisper_batch(clips, whisper, None, mean_after=5)


def test_the_speech_span_leaves_out_the_silence_around_an_utterance():
    rng = np.random.default_rng(0)
    speech = 0.3 * rng.standard_normal(16000)
    padded = np.concatenate([np.zeros(8000), speech, 1e-4 * rng.standard_normal(4800)])
    assert features.speech_span(padded, len(padded) // 320) == (25, 75)  # 0.5 s of silence, 1 s of sound
    assert features.speech_span(speech, 50) == (0, 50)
    assert features.speech_span(np.zeros(100), 1) == (0, 1)  # shorter than a state: all of it
