"""Shapes, masks and the missing-modality vectors of the fusion model (tiny random config)."""

import math

import pytest
import torch

from mmsent.config import ModelConfig, tiny_config
from mmsent.labels import EMOTIONS, SENTIMENTS
from mmsent.model import Inputs, build_model, clarity, drop_modalities, log_linear

B = 3


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model(tiny_config()).eval()


def make_inputs(model, mask) -> Inputs:
    tok = model.tokenizer(["I love this", "no way, that is awful", "ok"], padding=True, return_tensors="pt")
    g = torch.Generator().manual_seed(1)
    return Inputs(
        mask=torch.tensor(mask, dtype=torch.bool),
        input_ids=tok["input_ids"], attention_mask=tok["attention_mask"],
        mel=torch.randn(B, 64, 200, generator=g), mel_lengths=torch.tensor([200, 120, 7]),
        clips=torch.randn(B, 3, 16, 112, 112, generator=g),
    )


@pytest.mark.parametrize("mask", [[1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0], [1, 1, 0]])
def test_output_shapes_with_and_without_each_modality(model, mask):
    out = model(make_inputs(model, [mask] * B))
    assert out.emotion_logits.shape == (B, len(EMOTIONS))
    assert out.sentiment_logits.shape == (B, len(SENTIMENTS))
    assert set(out.embeddings) == {"text", "audio", "video"}
    assert all(e.shape == (B, model.config.embed_dim) for e in out.embeddings.values())
    assert out.mask.tolist() == [[bool(v) for v in mask]] * B
    assert torch.isfinite(out.emotion_logits).all()


def test_mlp_fusion_replaces_an_absent_modality_by_its_learned_missing_vector():
    model = build_model(tiny_config(fusion="mlp")).eval()
    out = model(make_inputs(model, [[1, 0, 1]] * B))
    assert torch.equal(out.embeddings["audio"], model.missing[1].expand(B, -1))
    assert not torch.equal(out.embeddings["text"][0], model.missing[0])


def test_log_linear_fusion_adds_weighted_log_probabilities_and_a_prior_per_sense_beyond_one(model):
    with torch.no_grad():
        model.fusion_weight.copy_(torch.tensor([[0.5, 2.0, 1.0], [1.0, 0.3, 0.7]]))
        model.emotion_prior.copy_(torch.arange(7.0) / 10)
    out = model(make_inputs(model, [[1, 0, 1], [0, 1, 0], [1, 1, 1]]))
    text, audio, video = (out.per_modality[m][0].log_softmax(-1) for m in ("text", "audio", "video"))
    prior = model.emotion_prior
    expected = torch.stack([prior + 0.5 * text[0] + video[0], 2.0 * audio[1],
                            2 * prior + 0.5 * text[2] + 2.0 * audio[2] + video[2]])
    assert torch.allclose(out.emotion_logits, expected, atol=1e-5)
    # a sense alone answers what it says: the ranking of its own reading
    assert torch.equal(out.emotion_logits[1].argsort(), out.per_modality["audio"][0][1].argsort())
    for em, se in out.per_modality.values():
        assert em.shape == (B, 7) and se.shape == (B, 3)


def test_a_sense_flattened_by_its_doubt_brings_that_share_of_the_prior():
    """A voice the gate flattens by g is 1/g of a sense's evidence: it counts 1/g in the prior's count
    (a voice read as uniform adds almost nothing, not a whole sense's prior)."""
    g = torch.Generator().manual_seed(0)
    text, voice = (torch.randn(3, 7, generator=g).log_softmax(-1) for _ in range(2))
    mask = torch.tensor([[1.0, 1.0, 0.0]] * 3)
    weight, prior = torch.tensor([1.2, 0.9, 1.0]), torch.arange(7.0) / 10
    doubt = torch.tensor([1.0, 4.0, 100.0])
    out = log_linear({"text": text, "audio": voice}, mask, weight, prior, doubts={"audio": doubt})
    expected = 1.2 * text + 0.9 * voice + (1 / doubt)[:, None] * prior
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.allclose(out[0], log_linear({"text": text, "audio": voice}, mask, weight, prior)[0])


def test_temperature_and_bias_calibrate_each_senses_own_logits(model):
    x = make_inputs(model, [[1, 1, 1]] * B)
    before = model(x).per_modality["audio"][0]
    bias = torch.linspace(-1, 1, 7)
    with torch.no_grad():
        model.temperature[1, 0] = 2.0
        model.emotion_bias[1] = bias
    assert torch.allclose(model(x).per_modality["audio"][0], before / 2.0 + bias, atol=1e-6)


def test_mask_changes_the_output_and_inputs_of_absent_modalities_are_ignored(model):
    x = make_inputs(model, [[1, 1, 1]] * B)
    full = model(x).emotion_logits
    no_audio = make_inputs(model, [[1, 0, 1]] * B)
    assert not torch.allclose(full, model(no_audio).emotion_logits)
    no_audio.mel = torch.randn_like(no_audio.mel)  # different audio, but audio is masked out
    assert torch.allclose(model(make_inputs(model, [[1, 0, 1]] * B)).emotion_logits, model(no_audio).emotion_logits)


def test_samples_are_independent_of_their_batch(model):
    x = make_inputs(model, [[1, 1, 1], [0, 1, 1], [1, 0, 0]])
    together = model(x).emotion_logits
    for i in range(B):
        one = Inputs(**{k: None if v is None else v[i:i + 1] for k, v in vars(x).items()})
        one.input_ids, one.attention_mask = x.input_ids[i:i + 1], x.attention_mask[i:i + 1]
        assert torch.allclose(model(one).emotion_logits[0], together[i], atol=1e-5)


def test_cached_frozen_features_give_the_same_output(model):
    x = make_inputs(model, [[1, 1, 1]] * B)
    cached = Inputs(mask=x.mask, attention_mask=x.attention_mask, mel=x.mel, mel_lengths=x.mel_lengths,
                    text_hidden=model.encoders["text"].frozen(x.input_ids, x.attention_mask),
                    video_features=model.encoders["video"].frozen(x.clips))
    assert torch.allclose(model(x).emotion_logits, model(cached).emotion_logits, atol=1e-5)


def test_untrained_branch_is_never_used():
    model = build_model(tiny_config(trained_branches=("text", "audio"))).eval()
    assert "video" not in model.encoders
    x = make_inputs(model, [[1, 1, 1]] * B)
    out = model(x)
    assert out.mask[:, 2].sum() == 0 and set(out.per_modality) == {"text", "audio"}


def test_tuned_text_layers_train_and_the_rest_stays_frozen():
    model = build_model(tiny_config(text_tune_layers=1))
    text = model.encoders["text"]
    trainable = {n for n, p in text.named_parameters() if p.requires_grad}
    assert any(n.startswith("backbone.encoder.layer.1.") for n in trainable)
    assert not any(n.startswith("backbone.encoder.layer.0.") or n.startswith("backbone.embeddings") for n in trainable)
    x = make_inputs(model, [[1, 0, 0]] * B)
    model(x).emotion_logits.sum().backward()
    assert text.backbone.encoder.layer[1].output.dense.weight.grad is not None
    assert text.backbone.encoder.layer[0].output.dense.weight.grad is None
    # split forward (frozen bottom, tuned top) equals one full forward of the encoder
    model.eval()
    full = text.backbone(input_ids=x.input_ids, attention_mask=x.attention_mask).last_hidden_state
    split = text._run_layers(text.tuned_layers(), text.frozen(x.input_ids, x.attention_mask), x.attention_mask)
    mask = x.attention_mask.bool()
    assert torch.allclose(full[mask], split[mask], atol=1e-5)


def test_too_many_tuned_layers_is_a_clear_error():
    with pytest.raises(ValueError, match="can't tune 5 layers"):
        build_model(tiny_config(text_tune_layers=5))


def test_modality_dropout_keeps_one_present_modality():
    g = torch.Generator().manual_seed(0)
    mask = torch.ones(1000, 3, dtype=torch.bool)
    mask[::2, 2] = False
    dropped = drop_modalities(mask, 0.5, g)
    assert (dropped <= mask).all() and dropped.any(dim=1).all()
    assert 0.3 < 1 - dropped[mask].float().mean() < 0.6  # about half were dropped
    assert not drop_modalities(torch.zeros(4, 3, dtype=torch.bool), 0.5, g).any()


def test_config_round_trip_and_unknown_fields():
    cfg = tiny_config(text_context=2)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown model config fields"):
        ModelConfig.from_dict({**cfg.to_dict(), "layers": 3})
    with pytest.raises(ValueError, match="unknown modalities"):
        tiny_config(trained_branches=("text", "smell")).validate()


def test_context_pairs_reach_the_text_encoder_with_their_segment_ids(model):
    from mmsent import features

    tok = features.tokenize(model.tokenizer, ["I am fine"], [["How are you?"]])
    assert tok["token_type_ids"].sum() > 0  # the utterance is marked apart from its context
    enc = model.encoders["text"]
    with_types = enc(tok["input_ids"], tok["attention_mask"], tok["token_type_ids"])
    without = enc(tok["input_ids"], tok["attention_mask"])
    assert not torch.allclose(with_types, without)


def test_audio_encoder_keeps_the_mel_axis_and_trains_on_one_short_clip():
    from mmsent.encoders import AudioEncoder

    torch.manual_seed(0)
    enc = AudioEncoder((8, 16), embed_dim=16, n_mels=64, hidden=16).eval()
    low, high = torch.zeros(1, 64, 100), torch.zeros(1, 64, 100)
    low[:, 8], high[:, 48] = 3.0, 3.0  # the same energy, in a low or a high band
    lengths = torch.tensor([100])
    assert not torch.allclose(enc(low, lengths), enc(high, lengths), atol=1e-4)  # pitch position is seen
    enc.train()  # one clip of 3 frames: batch norm still has more than one value per channel
    out = enc(torch.randn(1, 64, 3), torch.tensor([3]))
    out.sum().backward()
    assert out.shape == (1, 16) and torch.isfinite(out).all()


@pytest.mark.parametrize("pooling", ["mean-std", "mean", "attention"])
def test_whisper_head_ignores_padded_frames_and_attention_weighs_frames(pooling):
    from mmsent.encoders import WhisperAudioEncoder

    torch.manual_seed(0)
    head = WhisperAudioEncoder(width=16, hidden=8, embed_dim=4, dropout=0.0, pooling=pooling).eval()
    states = torch.randn(2, 30, 16)
    padded = states.clone()
    padded[0, 20:] = 1e4  # frames past the first clip's length must not count
    lengths = torch.tensor([20, 30])
    stats = head.pool(states, lengths)
    width = 16 if pooling == "mean" else 32
    assert stats.shape == (2, width) and torch.allclose(stats, head.pool(padded, lengths), atol=1e-5)
    assert torch.allclose(head.pool(states[:1, :20], lengths[:1]), stats[:1], atol=1e-5)
    plain = torch.cat([states[0, :20].mean(0), states[0, :20].std(0, unbiased=False)])[:width]
    if pooling != "attention":
        assert torch.allclose(stats[0], plain, atol=1e-3)
    else:  # learned weights over the frames: not the plain statistics
        assert not torch.allclose(stats[0], plain, atol=1e-3)
    assert head(padded, lengths).shape == (2, 4)


def test_a_sense_saying_neutral_counts_less_beside_another_and_alone_answers_as_it_reads(model):
    with torch.no_grad():
        model.fusion_weight.copy_(torch.tensor([[0.5, 2.0, 1.0], [1.0, 0.3, 0.7]]))
        model.emotion_prior.copy_(torch.arange(7.0) / 10)
        model.neutral_discount.copy_(torch.tensor([[3.0, 0.0, 0.5], [1.0, 0.0, 0.0]]))
    try:
        out = model(make_inputs(model, [[1, 0, 1], [1, 0, 0], [1, 1, 1]]))
    finally:
        with torch.no_grad():
            model.neutral_discount.zero_()
    text, audio, video = (out.per_modality[m][0].log_softmax(-1) for m in ("text", "audio", "video"))
    share = lambda logp, d: (1 - logp[:, EMOTIONS.index("neutral")].exp()) ** d  # noqa: E731
    # each sense's discount scaled by the squared clarity of the clearest other sense present
    c_text, c_audio, c_video = clarity(text) ** 2, clarity(audio) ** 2, clarity(video) ** 2
    st = torch.stack([share(text, 3.0 * c_video)[0], torch.tensor(1.0),
                      share(text, 3.0 * torch.maximum(c_audio, c_video))[2]])[:, None]
    sv = torch.stack([share(video, 0.5 * c_text)[0], torch.tensor(1.0),
                      share(video, 0.5 * torch.maximum(c_text, c_audio))[2]])[:, None]
    prior = model.emotion_prior
    t, v = 0.5 * st * text, sv * video  # the prior counted once per sense beyond the first, by their shares
    expected = torch.stack([(st[0] + sv[0] - 1).clamp(min=0) * prior + t[0] + v[0], 0.5 * text[1],
                            (st[2] + sv[2]) * prior + t[2] + 2.0 * audio[2] + v[2]])
    assert torch.allclose(out.emotion_logits, expected, atol=1e-5)
    assert (st[[0, 2]] < 1).all()  # the discount acted


def test_words_saying_neutral_step_aside_only_for_a_sense_that_shows_something_clearly():
    """The discount's strength follows the clarity of the clearest other sense present: beside a
    reading that says nothing (uniform: a face read near-uniformly, a voice the gate flattened) the
    words count in full, beside a certain one they are discounted in full, in between by the squared
    clarity as exponent factor (a faint reading leaves them nearly in full); the sense's own clarity
    does not matter."""
    g = torch.Generator().manual_seed(0)
    text = torch.randn(4, 7, generator=g).log_softmax(-1)
    mask = torch.tensor([[1.0, 1.0, 0.0]] * 4)
    weight, prior, discount = torch.tensor([1.2, 0.9, 1.0]), torch.arange(7.0) / 10, torch.tensor([3.0, 0.0, 0.0])
    neutral = EMOTIONS.index("neutral")

    def fuse(words, voice):
        return log_linear({"text": words, "audio": voice}, mask, weight, prior, discount, neutral)

    def expected(words, voice, exponent):
        share = (1 - words[:, neutral:neutral + 1].exp()) ** exponent
        return share * 1.2 * words + 0.9 * voice + share * prior

    uniform = torch.full((4, 7), 1 / 7).log()
    assert torch.allclose(fuse(text, uniform), log_linear({"text": text, "audio": uniform}, mask, weight, prior),
                          atol=1e-6)  # nothing shown: the words in full
    certain = torch.full((4, 7), -1e4).index_fill(1, torch.tensor([0]), 0.0).log_softmax(-1)
    assert torch.allclose(fuse(text, certain), expected(text, certain, 3.0), atol=1e-5)
    voice = torch.randn(4, 7, generator=g).log_softmax(-1)
    c = clarity(voice)[:, None]
    assert ((c > 0.01) & (c < 0.99)).all()
    assert torch.allclose(fuse(text, voice), expected(text, voice, 3.0 * c ** 2), atol=1e-5)
    sharper = (text * 3).log_softmax(-1)  # the words' own clarity changes nothing but their reading
    assert torch.allclose(fuse(sharper, voice), expected(sharper, voice, 3.0 * c ** 2), atol=1e-5)
    faint = (voice * 0.1).log_softmax(-1)  # a faint reading (clarity below 0.05) leaves the words nearly in full
    c = clarity(faint)[:, None]
    assert (c < 0.05).all() and ((1 - text[:, neutral:neutral + 1].exp()) ** (3.0 * c ** 2) > 0.99).all()
    assert torch.allclose(fuse(text, faint), expected(text, faint, 3.0 * c ** 2), atol=1e-5)


def test_clarity_is_0_for_a_uniform_reading_and_1_for_a_certain_one():
    assert torch.allclose(clarity(torch.full((1, 7), 1 / 7).log()), torch.zeros(1), atol=1e-6)
    assert torch.allclose(clarity(torch.tensor([[0.0, -float("inf"), -float("inf")]])), torch.ones(1))
    p = torch.tensor([[0.5, 0.25, 0.25]])
    assert torch.allclose(clarity(p.log()), 1 + (p * p.log()).sum(-1) / math.log(3))
