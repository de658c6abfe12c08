"""Train/serve parity: the features training reads from its cache are exactly those the app computes
for the same clip with mmsent.features, and the model gives the same output on both paths."""

import pytest
import torch

from mmsent import features, media
from mmsent.config import WHISPER_LAYERS, tiny_config
from mmsent.model import Inputs, build_model
from train.corpora import read_meld, read_ravdess
from train.data import collate
from train.extract import audio_features, text_features, video_features
from train.synthetic import make_synthetic


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model(tiny_config(text_tune_layers=1)).eval()


def test_logmel_audio_features_match_inference(model, shared_data, tmp_path):
    samples = read_ravdess(shared_data / "ravdess", "20")[:3]
    cache = audio_features(model, samples, tmp_path)
    clips = [media.load_audio(s.media) for s in samples]  # what the app does for an utterance
    mel, lengths = features.audio_batch(clips)
    batch = collate(samples, {"audio": cache}, ("audio",))
    assert torch.equal(batch.inputs.mel_lengths, lengths)
    assert torch.equal(batch.inputs.mel, mel)  # same values, same zero padding
    assert len(set(lengths.tolist())) > 1  # the padding path was really exercised


@pytest.mark.parametrize("source", WHISPER_LAYERS)
def test_whisper_audio_features_match_inference(source, shared_data, tmp_path):
    """The cache keeps the Whisper states in float16: the app's float32 states round to them, and the
    whole model agrees on both paths."""
    from mmsent.transcribe import load_backend

    torch.manual_seed(0)
    model = build_model(tiny_config(audio_source=source, trained_branches=("audio",))).eval()
    samples = read_ravdess(shared_data / "ravdess", "20")[:3]
    cache = audio_features(model, samples, tmp_path)
    whisper = load_backend("faster-whisper", "base", "cpu").model  # the ASR's own model, as the app uses it
    states, lengths = features.states_batch([features.whisper_states(media.load_audio(s.media), whisper,
                                                                     WHISPER_LAYERS[source])
                                             for s in samples])
    batch = collate(samples, {"audio": cache}, ("audio",))
    assert torch.equal(batch.inputs.audio_lengths, lengths) and len(set(lengths.tolist())) > 1
    assert torch.equal(batch.inputs.audio_states, states.half().float())  # same values, same zero padding
    mask = torch.tensor([[False, True, False]] * len(samples))
    with torch.no_grad():
        trained = model(batch.inputs)
        served = model(Inputs(mask=mask, audio_states=states, audio_lengths=lengths))
    torch.testing.assert_close(trained.emotion_logits, served.emotion_logits, rtol=1e-3, atol=1e-3)


def test_the_voice_bank_compares_the_same_means_in_training_and_serving(shared_data, tmp_path):
    """config.voice_bank_layer: the training cache's mean states after that layer are those the app
    computes in its batch pass, and the voice's distance is the same on both paths."""
    from mmsent.pipeline import _audio_inputs
    from train.calibrate import voice_means
    from train.extract import extract_all

    torch.manual_seed(0)
    model = build_model(tiny_config(audio_source="whisper-base-layer4", voice_bank_layer=5,
                                    trained_branches=("audio",))).eval()
    samples = read_ravdess(shared_data / "ravdess", "20")[:3]
    caches = extract_all(model, samples, tmp_path)
    assert set(caches) == {"audio", "voice"}
    model.set_voice_bank(voice_means(samples, caches))
    audio = [media.load_audio(s.media) for s in samples]
    x = Inputs(mask=torch.tensor([[False, True, False]] * 3))
    served = []
    for a in audio:  # each utterance as the app cuts it from its video's sound
        one = Inputs(mask=x.mask[:1].clone())
        _audio_inputs(model, [(0.0, len(a) / features.SAMPLE_RATE)], [0], a, [True], one)
        served.append(one.voice_means[0])
    batch = collate(samples, caches, ("audio",))
    torch.testing.assert_close(batch.inputs.voice_means, torch.stack(served), atol=1e-5, rtol=1e-5)
    served_x = Inputs(mask=batch.inputs.mask, audio_states=batch.inputs.audio_states,
                      audio_lengths=batch.inputs.audio_lengths, voice_means=torch.stack(served))
    torch.testing.assert_close(model.distances(batch.inputs)["audio"], model.distances(served_x)["audio"],
                               atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="voice_means"):
        model.distances(Inputs(mask=batch.inputs.mask, audio_states=batch.inputs.audio_states,
                               audio_lengths=batch.inputs.audio_lengths))


def test_text_features_match_inference(model, tmp_path):
    folder = make_synthetic(tmp_path / "syn", n_train=6, n_dev=3)
    samples = read_meld(folder / "train_sent_emo.csv")
    cache = text_features(model, samples, tmp_path / "cache")
    tok = features.tokenize(model.tokenizer, [s.text for s in samples])
    enc = model.encoders["text"]
    with torch.no_grad():
        hidden = enc.frozen(tok["input_ids"], tok["attention_mask"])
    for i, s in enumerate(samples):
        n = int(tok["attention_mask"][i].sum())
        torch.testing.assert_close(cache[s.feature_id("text")], hidden[i, :n], rtol=1e-5, atol=1e-5)
    # The whole model: cached hidden states (training) vs tokens (inference).
    batch = collate(samples, {"text": cache}, ("text",))
    with torch.no_grad():
        trained_path = model(batch.inputs)
        mask = torch.zeros(len(samples), 3, dtype=torch.bool)
        mask[:, 0] = True
        app_path = model(Inputs(mask=mask, input_ids=tok["input_ids"], attention_mask=tok["attention_mask"]))
    torch.testing.assert_close(trained_path.emotion_logits, app_path.emotion_logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(trained_path.sentiment_logits, app_path.sentiment_logits, rtol=1e-4, atol=1e-5)


def test_edited_words_are_encoded_again_and_absent_words_never_read(model, tmp_path):
    """The words' cache is keyed by what is read: a transcript edited in the corpus (or given other
    context) gets its own features, and a sample without words is never fed another's."""
    from dataclasses import replace

    samples = read_meld(make_synthetic(tmp_path / "syn", n_train=3, n_dev=3) / "train_sent_emo.csv")
    cache = text_features(model, samples, tmp_path / "cache")
    edited = [replace(samples[0], text=samples[0].text + " Really?"), replace(samples[1], context=("Hi.",)),
              replace(samples[2], text=None)]
    assert len({s.feature_id("text") for s in samples + edited[:2]}) == 5
    cache = text_features(model, samples + edited, tmp_path / "cache")
    tok = features.tokenize(model.tokenizer, [edited[0].text])
    with torch.no_grad():
        expected = model.encoders["text"].frozen(tok["input_ids"], tok["attention_mask"])[0]
    torch.testing.assert_close(cache[edited[0].feature_id("text")], expected, rtol=1e-5, atol=1e-5)
    assert edited[1].feature_id("text") in cache
    cache.add({samples[2].id: cache[samples[2].feature_id("text")]})  # as a cache keyed by sample id held it
    assert collate(edited, {"text": cache}, ("text",)).inputs.mask[:, 0].tolist() == [True, True, False]


def test_video_features_match_inference(model, tmp_path):
    folder = make_synthetic(tmp_path / "syn", n_train=3, n_dev=3)
    samples = read_meld(folder / "train_sent_emo.csv")
    cache = video_features(model, samples, tmp_path / "cache")
    for s in samples:
        info = media.probe(s.media)
        frames = media.load_frames(s.media, [(0.0, info.duration)], n=features.N_FRAMES)
        with torch.no_grad():
            expected = model.encoders["video"].frozen(features.video_batch([frames[0]]))[0]
        torch.testing.assert_close(cache[s.feature_id("video")], expected, rtol=1e-5, atol=1e-5)
