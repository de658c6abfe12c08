"""Joined samples and calibration: how the fusion learns to add the senses up."""

from dataclasses import replace

import numpy as np
import torch

from mmsent.config import tiny_config
from mmsent.labels import EMOTIONS, MODALITIES, implied_sentiment
from mmsent.model import build_model
from train.cache import FeatureCache
from train.calibrate import TEMPERATURES, calibrate, fit_sense, grid_end, grid_temperature
from train.corpora import Sample
from train.data import collate, predict_logits
from train.joint import joint_samples


def _corpora():
    """Words (MELD-like), voices (with a fixed sentence, like RAVDESS) and faces, with cached features."""
    samples, caches = [], {m: FeatureCache(None, m, {}) for m in MODALITIES}
    for e in range(len(EMOTIONS)):
        for k in range(3):
            t = Sample(f"meld/{e}/{k}", "meld", f"words {e} {k}", e, implied_sentiment(e) if e != 6 else 0)
            a = Sample(f"ravdess/{e}/{k}", "ravdess", "Kids are talking by the door.", e, None)
            v = Sample(f"fer/{e}/{k}", "fer2013", None, e, None)
            caches["text"].add({t.feature_id("text"): torch.randn(4, 32), a.feature_id("text"): torch.randn(5, 32)})
            caches["audio"].add({a.id: torch.randn(64, 30)})
            caches["video"].add({v.id: torch.randn(512)})
            samples += [t, a, v]
    return samples, caches


def test_joined_samples_join_senses_of_one_emotion_and_never_the_fixed_sentences():
    samples, caches = _corpora()
    by_id = {s.feature_id(m): s for s in samples for m in MODALITIES}
    joined = joint_samples([samples], caches, 300, seed=3)
    assert len(joined) == 300 and joined == joint_samples([samples], caches, 300, seed=3)
    combos = set()
    for j in joined:
        parts = dict(j.parts)
        combos.add(tuple(parts))
        assert len(parts) >= 2 and all(by_id[i].emotion == j.emotion for i in parts.values())
        assert "text" not in parts or by_id[parts["text"]].corpus == "meld"  # RAVDESS's words carry no label
        assert j.sentiment == (by_id[parts["text"]].sentiment if "text" in parts else None)
    assert combos == {("text", "audio"), ("text", "video"), ("audio", "video"), ("text", "audio", "video")}
    assert len({j.emotion for j in joined}) == len(EMOTIONS)
    batch = collate(joined[:20], caches)
    expected = torch.tensor([[m in dict(j.parts) for m in MODALITIES] for j in joined[:20]])
    assert torch.equal(batch.inputs.mask, expected)  # each sense from its own part, the rest absent
    # the sentiment a voice or face trains is the one its emotion implies (none for surprise)
    no_text = [j for j in joined[:20] if "text" not in dict(j.parts)]
    assert [int(v) for v in batch.sentiment[[joined.index(j) for j in no_text]]] == \
        [-100 if implied_sentiment(j.emotion) is None else implied_sentiment(j.emotion) for j in no_text]


def test_plain_words_join_neutral_words_to_the_emotion_of_the_other_senses():
    samples, caches = _corpora()
    by_id = {s.feature_id(m): s for s in samples for m in MODALITIES}
    neutral = EMOTIONS.index("neutral")
    joined = joint_samples([samples], caches, 600, seed=3, plain_words=0.5)
    plain = [j for j in joined if "text" in dict(j.parts) and j.emotion != neutral
             and by_id[dict(j.parts)["text"]].emotion == neutral]
    worded = [j for j in joined if "text" in dict(j.parts) and j.emotion != neutral]
    assert 0.4 < len(plain) / len(worded) < 0.6
    for j in plain:  # labelled by the other senses; the sentiment the emotion implies, not the words'
        assert all(by_id[i].emotion == j.emotion for m, i in j.parts if m != "text")
        assert j.sentiment is None
    assert all(by_id[dict(j.parts)["text"]].emotion == j.emotion for j in worded if j not in plain)
    assert joint_samples([samples], caches, 300, seed=3, plain_words=0.0) == \
        joint_samples([samples], caches, 300, seed=3)


def test_fit_sense_recovers_the_temperature_and_class_bias_of_miscalibrated_logits():
    rng = np.random.default_rng(0)
    true = rng.normal(size=(4000, 7))
    probs = np.exp(true) / np.exp(true).sum(1, keepdims=True)
    labels = np.array([rng.choice(7, p=p) for p in probs])
    t, b = fit_sense(true * 3.0, labels)
    assert abs(t - 3.0) < 0.3 and np.abs(b).max() < 0.15  # logits 3x too sharp, no class favoured
    shift = np.array([1.5, 0, 0, -1.0, 0, 0, 0.5])  # a head that favours some classes (other base rates)
    t, b = fit_sense(true - shift, labels)
    assert abs(t - 1.0) < 0.1 and np.abs(b - (shift - shift.mean())).max() < 0.15


def test_fit_sense_keeps_the_temperature_within_the_range_of_its_grid():
    """L-BFGS took a temperature from the grid's best on to 9,173,819 on four samples read wrongly with confidence
    (every reading flat); one read rightly by far would be sharpened without end the other way."""
    labels = np.arange(4) % 3
    t, b = fit_sense(np.eye(3)[(labels + 1) % 3] * 3.0, labels)
    assert t == TEMPERATURES[-1] and grid_end(t) == "max" and np.isfinite(b).all()
    t, _ = fit_sense(np.eye(3)[labels] * 3.0, labels)
    assert t == TEMPERATURES[0] and grid_end(t) == "min"
    assert grid_end(np.float32(TEMPERATURES[-1])) == "max"  # as a checkpoint's float32 temperature holds it


def test_grid_temperature_says_how_over_confident_logits_are():
    rng = np.random.default_rng(1)
    true = rng.normal(size=(3000, 7))
    probs = np.exp(true) / np.exp(true).sum(1, keepdims=True)
    labels = np.array([rng.choice(7, p=p) for p in probs])
    assert abs(grid_temperature(true * 4.0, labels) - 4.0) < 0.4  # four times too sharp
    assert abs(grid_temperature(true, labels) - 1.0) < 0.1
    assert grid_temperature(true * 0.5, labels) < 0.6  # too flat: below 1


def test_calibration_sets_temperatures_and_fusion_weights_on_the_dev_sets():
    torch.manual_seed(0)
    model = build_model(tiny_config()).eval()
    samples, caches = _corpora()
    dev = {"meld": [s for s in samples if s.corpus == "meld"], "ravdess": [s for s in samples if s.corpus == "ravdess"],
           "fer2013": [s for s in samples if s.corpus == "fer2013"]}
    dev["joint"] = joint_samples(list(dev.values()), caches, 50)
    before = model.fusion_weight.detach().clone()
    report = calibrate(model, dev, caches)
    assert set(report["temperature"]) == set(MODALITIES) and set(report["fusion_weight"]) == set(MODALITIES)
    assert not torch.equal(model.temperature, torch.ones(3, 2)) and not torch.equal(model.fusion_weight, before)
    assert (model.fusion_weight >= 0).all()  # a sense never counts against its own evidence
    assert set(report["bias"]) == set(MODALITIES) and model.emotion_bias.abs().sum() > 0
    # a sense alone answers what it says: the fused ranking is that of its calibrated reading
    out = predict_logits(model, dev["meld"], caches)
    assert (out["emotion"].argmax(1) == out["text/emotion"].argmax(1)).all()


def test_fusion_learns_that_words_saying_neutral_are_no_evidence_for_which_emotion_a_voice_shows():
    """Scripted sentences (every emotion spoken on the same plain words) next to a voice, words that
    carry their emotion alone (MELD), and words and voice that agree (joined): the fit gives the words
    a neutral discount, and the fused answer on new plain words (another tail) beats the undiscounted one."""
    from train.calibrate import _fit_fusion

    g = torch.Generator().manual_seed(0)
    n, k, neutral = 700, len(EMOTIONS), EMOTIONS.index("neutral")
    labels = torch.arange(n) % k
    onehot = torch.nn.functional.one_hot(labels, k).float()

    def plain_words():  # "neutral" most of the time, and a tail that says nothing about the emotion
        z = torch.randn(n, k, generator=g) * 1.5
        z[:, neutral] += 3.0
        return z

    voice = lambda: 2.0 * onehot + torch.randn(n, k, generator=g)  # noqa: E731
    words = lambda: 2.5 * onehot + torch.randn(n, k, generator=g)  # noqa: E731
    sets = {"scripted": (plain_words(), voice(), [1, 1, 0]), "meld": (words(), None, [1, 0, 0]),
            "joint": (words(), voice(), [1, 1, 0])}
    model = build_model(tiny_config()).eval()
    dev, outputs = {}, {}
    for name, (text, audio, mask) in sets.items():
        dev[name] = [Sample(f"{name}/{i}", name, "words", int(e), None) for i, e in enumerate(labels)]
        nan = torch.full((n, k), float("nan"))
        outputs[name] = {"mask": np.array([mask] * n, bool), "text/emotion": text.numpy(),
                         "audio/emotion": (nan if audio is None else audio).numpy(), "video/emotion": nan.numpy()}
        for m in MODALITIES:
            outputs[name][f"{m}/sentiment"] = np.full((n, 3), np.nan, np.float32)
    _fit_fusion(model, dev, outputs)
    assert model.neutral_discount[0, 0] > 0.5 and (model.neutral_discount >= 0).all()
    test = {"text": plain_words(), "audio": voice()}
    mask = torch.tensor([[True, True, False]] * n)
    senses = {m: (test.get(m, torch.zeros(n, k)), torch.zeros(n, 3)) for m in MODALITIES}
    fused = model.fuse({}, mask, senses=senses).emotion_logits
    with torch.no_grad():
        model.neutral_discount.zero_()
    plain = model.fuse({}, mask, senses=senses).emotion_logits
    acc = lambda z: (z.argmax(1) == labels).float().mean()  # noqa: E731
    assert acc(fused) > acc(plain) + 0.03 and acc(fused) >= acc(test["audio"]) - 0.01


def test_a_fusion_weight_fitted_on_a_handful_of_clips_stays_in_its_range_and_the_log_says_so(caplog):
    """Four clips, each read rightly by a voice alone, took its fusion weight (the power its reading is raised to,
    alone) to 7,724 once the temperature was bounded: every reading one-hot. Now it stops at the end of its range,
    the log warning; calibrated readings of many clips keep a weight about 1, inside it."""
    from train.calibrate import FUSION_WEIGHTS, _fit_fusion, report_lines

    def fit(logits: torch.Tensor, labels: torch.Tensor):
        model = build_model(tiny_config()).eval()
        n, nan = len(labels), np.full((len(labels), len(EMOTIONS)), np.nan, np.float32)
        dev = {"mine": [Sample(f"mine/{i}", "mine", None, int(e), None) for i, e in enumerate(labels)]}
        outputs = {"mine": {"mask": np.array([[False, True, False]] * n), "audio/emotion": logits.numpy(),
                            "text/emotion": nan, "video/emotion": nan}}
        for m in MODALITIES:
            outputs["mine"][f"{m}/sentiment"] = np.full((n, 3), np.nan, np.float32)
        _fit_fusion(model, dev, outputs)
        return model.fusion_weight.detach()[0, MODALITIES.index("audio")].item()

    labels = torch.arange(4)
    with caplog.at_level("WARNING", logger="train.calibrate"):
        assert fit(torch.eye(len(EMOTIONS))[labels], labels) == FUSION_WEIGHTS[1]
    assert ("the voice's emotion fusion weight stopped at 2.00, the upper end of the range allowed (0-2), fitted on 4 "
            "dev samples") in caplog.text
    report = {"temperature": {"audio": {"emotion": 1.0, "sentiment": 1.0}},
              "fusion_weight": {"audio": {"emotion": 2.0, "sentiment": 1.0}}}
    assert report_lines(report) == ["voice: emotion T=1.00, sentiment T=1.00; fusion weight emotion 2.00 "
                                    "(upper bound), sentiment 1.00"]
    caplog.clear()
    with caplog.at_level("WARNING", logger="train.calibrate"):  # read wrongly with confidence: counted not at all
        assert fit(torch.eye(len(EMOTIONS))[(labels + 1) % len(EMOTIONS)] * 3.0, labels) == FUSION_WEIGHTS[0]
    assert "the voice's emotion fusion weight stopped at 0.00, the lower end" in caplog.text
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2000, len(EMOTIONS), generator=g) * 2.0
    labels = torch.multinomial(logits.softmax(-1), 1, generator=g).squeeze(1)  # calibrated as they are
    assert abs(fit(logits, labels) - 1.0) < 0.1


def test_the_priors_fitted_on_a_handful_of_joined_clips_stay_in_their_range_and_the_log_says_so(caplog):
    """Four joined clips (voice and face) of one emotion took its prior to 15, of four emotions to +-2,500: every
    joined reading answered by the prior alone. Now a prior stops at +-PRIOR_MAX, the log naming the classes."""
    from train.calibrate import PRIOR_MAX, _fit_fusion

    g = torch.Generator().manual_seed(0)
    for labels in (torch.zeros(4, dtype=torch.long), torch.arange(4)):
        model = build_model(tiny_config()).eval()
        n, nan = len(labels), np.full((len(labels), len(EMOTIONS)), np.nan, np.float32)
        dev = {"mine": [Sample(f"mine/{i}", "mine", None, int(e), None) for i, e in enumerate(labels)]}
        outputs = {"mine": {"mask": np.array([[False, True, True]] * n), "text/emotion": nan,
                            "audio/emotion": torch.randn(n, len(EMOTIONS), generator=g).numpy(),
                            "video/emotion": torch.randn(n, len(EMOTIONS), generator=g).numpy()}}
        for m in MODALITIES:
            outputs["mine"][f"{m}/sentiment"] = np.full((n, 3), np.nan, np.float32)
        caplog.clear()
        with caplog.at_level("WARNING", logger="train.calibrate"):
            _fit_fusion(model, dev, outputs)
        prior = model.emotion_prior.detach()
        assert prior.abs().max() <= PRIOR_MAX and model.sentiment_prior.detach().abs().max() <= PRIOR_MAX, prior
        assert (prior.abs() == PRIOR_MAX).any()  # the fit would take some further
        ends = ", ".join(f"{e} {float(p):+.2f}" for e, p in zip(EMOTIONS, prior) if abs(p) == PRIOR_MAX)
        assert f"the emotion prior stopped at an end of the range allowed (+-3) for {ends}, fitted on 4" in caplog.text
        if not labels.any():  # all anger: anger's prior up to the end
            assert prior[0] == PRIOR_MAX


def test_a_neutral_discount_fitted_on_a_handful_of_clips_stays_in_its_range_and_the_log_says_so(caplog):
    """Four clips of words alone, read rightly, and four whose words say neutral (and, faintly, the wrong emotion)
    beside a voice read rightly but faintly took the words' neutral discount to 6,700: words that say neutral set aside
    beside anything. Now it stops at DISCOUNT_MAX, the log warning and the report marking it; 0 (no discount) is
    no end to warn of."""
    from train.calibrate import DISCOUNT_MAX, _fit_fusion, report_lines

    k, neutral, labels = len(EMOTIONS), EMOTIONS.index("neutral"), torch.arange(4)
    eye, nan = torch.eye(k), torch.full((4, k), float("nan"))
    sets = {"words": (eye[labels] * 2.0, nan, [True, False, False]),
            "plain": (eye[neutral] * 2.0 + eye[(labels + 1) % 4] * 1.5, eye[labels] * 0.7, [True, True, False])}
    model = build_model(tiny_config()).eval()
    dev, outputs = {}, {}
    for name, (words, voice, mask) in sets.items():
        dev[name] = [Sample(f"{name}/{i}", name, "words", int(e), None) for i, e in enumerate(labels)]
        outputs[name] = {"mask": np.array([mask] * 4), "text/emotion": words.numpy(), "audio/emotion": voice.numpy(),
                         "video/emotion": nan.numpy()}
        for m in MODALITIES:
            outputs[name][f"{m}/sentiment"] = np.full((4, 3), np.nan, np.float32)
    with caplog.at_level("WARNING", logger="train.calibrate"):
        _fit_fusion(model, dev, outputs)
    assert model.neutral_discount[0, MODALITIES.index("text")] == DISCOUNT_MAX
    assert (model.neutral_discount >= 0).all() and (model.neutral_discount <= DISCOUNT_MAX).all()
    assert ("the words' emotion neutral discount stopped at 1000, the upper end of the range allowed (0-1000), "
            "fitted on 8 dev samples") in caplog.text
    assert "voice's emotion neutral discount" not in caplog.text  # 0: counted in full, no end
    report = {"temperature": {"text": {"emotion": 1.0, "sentiment": 1.0}},
              "neutral_discount": {"text": {"emotion": DISCOUNT_MAX, "sentiment": 0.0}}}
    assert report_lines(report) == ["words: emotion T=1.00, sentiment T=1.00; neutral discount emotion 1000.00 "
                                    "(upper bound), sentiment 0.00"]


def test_words_are_calibrated_on_goemotions_dev_and_a_sense_without_dev_samples_is_named(caplog):
    """With GoEmotions as the words' only dev set, their temperature stayed 1 and their biases 0, without a word."""
    torch.manual_seed(0)
    model = build_model(tiny_config()).eval()
    samples, caches = _corpora()
    meld = [s for s in samples if s.corpus == "meld"]
    words = [replace(s, id=s.id.replace("meld/", "goemotions/"), corpus="goemotions") for s in meld]
    caches["text"].add({w.feature_id("text"): caches["text"][s.feature_id("text")] for s, w in zip(meld, words)})
    report = calibrate(model, {"goemotions": words, "fer2013": [s for s in samples if s.corpus == "fer2013"]}, caches)
    assert report["temperature"]["text"]["emotion"] != 1.0 and any(report["bias"]["text"]["emotion"])
    said = [r.getMessage() for r in caplog.records if "no dev samples of their own" in r.getMessage()]
    assert said == [f"calibration: no dev samples of their own for the voice's {head} head (ravdess or emovo dev): "
                    "left uncalibrated (temperature 1, no biases)" for head in ("emotion", "sentiment")]
    assert report["temperature"]["audio"] == {"emotion": 1.0, "sentiment": 1.0}
