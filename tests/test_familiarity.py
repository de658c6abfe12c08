"""The voice's familiarity gate: a bank of training voices, the distance of a voice to it, and the
doubt that flattens the reading of a voice unlike them (model, calibration, checkpoint, the slope's
fit and its command line on real voices)."""

import json
import re

import numpy as np
import pytest
import torch

from conftest import unsettled
from mmsent.checkpoint import load_checkpoint, save_checkpoint
from mmsent.config import tiny_config
from mmsent.features import WHISPER_WIDTH
from mmsent.model import Inputs, build_model, log_linear
from train import familiarity
from train.cache import FeatureCache
from train.calibrate import calibrate, fit_slope
from train.corpora import CorpusError, Sample, read_ravdess
from train.data import predict_logits
from train.evaluate import corpus_report
from train.extract import audio_features
from train.speech_corpora import read_emovo


def _voice_model():
    torch.manual_seed(0)
    return build_model(tiny_config(audio_source="whisper-base", trained_branches=("audio",))).eval()


def _voices(center: torch.Tensor, n: int, frames: int = 12, seed: int = 0) -> torch.Tensor:
    """n clips (n, frames, width) of states around one 'speaker' center: their means are its neighbours."""
    g = torch.Generator().manual_seed(seed)
    return center + 0.3 * torch.randn(n, frames, WHISPER_WIDTH, generator=g)


def _inputs(states: torch.Tensor, present: list[bool]) -> Inputs:
    mask = torch.zeros(len(states), 3, dtype=torch.bool)
    mask[:, 1] = torch.tensor(present)
    return Inputs(mask=mask, audio_states=states, audio_lengths=torch.full((len(states),), states.shape[1]))


def test_distance_grows_from_training_voices_to_strangers_and_doubt_flattens_only_beyond_d0():
    model = _voice_model()
    g = torch.Generator().manual_seed(1)
    speakers = torch.randn(5, WHISPER_WIDTH, generator=g)  # four in training, one never heard
    bank = torch.cat([_voices(speakers[k], 10, seed=k) for k in range(4)])
    enc = model.encoders["audio"]
    model.set_voice_bank(enc.mean_state(bank, torch.full((40,), 12)))
    assert model.config.voice_bank == 40 and enc.bank.dtype == torch.float16
    trained, same, stranger = bank[:4], _voices(speakers[0], 4, seed=7), _voices(speakers[4], 4, seed=8)
    x = _inputs(torch.cat([trained, same, stranger]), [True] * 11 + [False])
    d = model.distances(x)["audio"]
    assert (d[:4] < d[4:8].min()).all() and (d[4:8].max() < d[8:11].min())  # training < same speaker < another
    assert d[11] == 0  # no voice in that row: nothing measured
    plain = model(x).per_modality["audio"][0]  # gate off (slope 0): the calibrated reading as it was
    d0 = float(d[4:8].max())
    enc.gate.copy_(torch.tensor([d0, 10.0]))
    out = model(x)
    gated = out.per_modality["audio"][0]
    assert torch.equal(out.distances["audio"], d)
    torch.testing.assert_close(gated[:8], plain[:8])  # familiar voices: unchanged
    torch.testing.assert_close(gated[8:11], plain[8:11] / (1 + 10.0 * (d[8:11, None] - d0)))
    assert torch.equal(gated[8:11].argmax(1), plain[8:11].argmax(1))  # less sure, same order
    assert (gated[8:11].softmax(1).max(1).values < plain[8:11].softmax(1).max(1).values).all()
    # a voice alone answers its (gated) reading; the whole batch is independent of its neighbours
    torch.testing.assert_close(model(_inputs(stranger[:1], [True])).per_modality["audio"][0], gated[8:9])


def test_the_bank_and_the_gate_survive_a_checkpoint_and_older_checkpoints_still_load(tmp_path):
    model = _voice_model()
    states = torch.cat([_voices(torch.randn(WHISPER_WIDTH), 10, seed=k) for k in range(3)])
    model.set_voice_bank(model.encoders["audio"].mean_state(states, torch.full((30,), 12)))
    model.encoders["audio"].gate.copy_(torch.tensor([0.1, 5.0]))
    x = _inputs(torch.randn(3, 12, WHISPER_WIDTH), [True] * 3)
    before = model(x)
    loaded = load_checkpoint(save_checkpoint(model, tmp_path / "with-bank"))
    assert loaded.config.voice_bank == 30
    after = loaded(x)
    torch.testing.assert_close(after.distances["audio"], before.distances["audio"])
    torch.testing.assert_close(after.emotion_logits, before.emotion_logits)
    old = unsettled(save_checkpoint(_voice_model(), tmp_path / "format-3"))  # no bank: what format 3 could hold
    meta = json.loads((old / "config.json").read_text())
    meta["format_version"] = 3
    del meta["model"]["voice_bank"]
    (old / "config.json").write_text(json.dumps(meta))
    older = load_checkpoint(old)
    assert older.config.voice_bank == 0 and older(x).distances == {}


def test_calibration_keeps_the_unperturbed_training_voices_and_sets_d0_at_the_farthest_dev_voice():
    model = _voice_model()
    cache = FeatureCache(None, "audio", {"transform": "whisper-base"})
    train, dev = [], []
    for e in range(7):
        for k in range(4):
            s = Sample(f"train/{e}/{k}", "ravdess", None, e, None)
            train += [s, Sample(f"{s.id}~aug1", "ravdess", None, e, None, augment=1)]
            dev.append(Sample(f"dev/{e}/{k}", "ravdess", None, e, None))
    g = torch.Generator().manual_seed(0)
    cache.add({s.id: torch.randn(10, WHISPER_WIDTH, generator=g).half() for s in train + dev})
    report = calibrate(model, {"ravdess": dev}, {"audio": cache}, voices=train, slope=7.5)
    assert model.config.voice_bank == 28 == report["familiarity"]["voices"]  # the perturbed copies are not kept
    d = predict_logits(model, dev, {"audio": cache})["audio/distance"]
    d0, slope = model.encoders["audio"].gate.tolist()
    assert d0 == pytest.approx(d.max(), abs=1e-6) and slope == 7.5  # no dev voice is doubted
    assert report["familiarity"]["slope"] == 7.5
    report = calibrate(model, {"ravdess": dev}, {"audio": cache}, voices=train, slope=7.5, quantile=0.5)
    assert model.encoders["audio"].gate[0].item() == pytest.approx(np.quantile(d, 0.5), abs=1e-6)  # half are doubted
    assert report["familiarity"]["quantile"] == 0.5


def test_fit_slope_flattens_confident_strangers_and_leaves_calibrated_voices_alone():
    rng = np.random.default_rng(0)
    n = 400
    labels = rng.integers(0, 7, n)
    sure = np.eye(7)[labels] * 4.0 + rng.normal(0, 0.3, (n, 7))  # right and sure of it
    wrong = np.eye(7)[rng.integers(0, 7, n)] * 4.0  # sure, and right only by chance
    near, far = rng.uniform(0.2, 0.4, n), rng.uniform(0.6, 0.9, n)
    assert fit_slope([(sure, near, labels, 0.4), (wrong, far, labels, 0.4)]) > 5
    assert fit_slope([(sure, near, labels, 0.4), (sure, far, labels, 0.4)]) == 0.0


def test_familiarity_command_on_real_voices(shared_data, tmp_path, capsys):
    """A voice kept from RAVDESS actors: an unseen RAVDESS actor sounds nearer to it than an Italian
    speaker of EMOVO; the command prints a slope and each set's figures."""
    model = _voice_model()
    caches = {"audio": audio_features(model, read_ravdess(shared_data / "ravdess", "19-20")
                                      + read_emovo(shared_data / "emovo", "m3"), tmp_path / "cache")}
    known, unseen = read_ravdess(shared_data / "ravdess", "19"), read_ravdess(shared_data / "ravdess", "20")
    calibrate(model, {"ravdess": unseen}, caches, voices=known)
    own, other = (corpus_report(model, s, caches)["emotion"]["per_modality"]["audio"]
                  for s in (unseen, read_emovo(shared_data / "emovo", "m3")))
    assert own["doubted_share"] == 0.0 < other["doubted_share"]  # d0 is the farthest dev voice
    assert own["distance_median"] < other["distance_median"]
    checkpoint = save_checkpoint(model, tmp_path / "voice")
    parts = familiarity.voice_parts(str(checkpoint), [f"ravdess={shared_data / 'ravdess'}:20",
                                                      f"emovo={shared_data / 'emovo'}:m3"], str(tmp_path / "cache"))
    (_, _, own, labels, d0), (_, _, other, _, _) = parts
    assert len(labels) == 60 and np.median(own) < np.median(other)
    assert d0 == pytest.approx(own.max(), abs=1e-4)
    assert familiarity.main(["--voice", str(checkpoint), f"ravdess={shared_data / 'ravdess'}:20",
                             f"emovo={shared_data / 'emovo'}:m3", "--cache", str(tmp_path / "cache")]) == 0
    assert float(capsys.readouterr().out.strip()) >= 0.0
    # a set with no voice (the words' corpus): its slope was 0, the gate turned off, printed with status 0
    assert familiarity.main(["--voice", str(checkpoint), f"ravdess={shared_data / 'ravdess'}:20",
                             f"meld={shared_data / 'meld' / 'dev_sent_emo.csv'}", "--cache",
                             str(tmp_path / "cache")]) == 2
    out = capsys.readouterr()
    assert not out.out and re.search(r"error: meld=\S*dev_sent_emo.csv: none of its \d+ samples is a voice with an "
                                     "emotion: give labelled speech", out.err), out.err
    no_bank = save_checkpoint(_voice_model(), tmp_path / "no-bank")  # a voice that keeps no training voices
    assert familiarity.main(["--voice", str(no_bank), "ravdess=x", "emovo=y"]) == 2
    assert "keeps no training voices" in capsys.readouterr().err


def test_beside_a_doubted_voice_words_saying_neutral_count_in_full():
    """The gate flattens a voice unlike the training voices, so its reading shows nothing clearly and
    the words' neutral discount (scaled by the clarity of the other senses) fades with it."""
    torch.manual_seed(0)
    model = build_model(tiny_config(audio_source="whisper-base", trained_branches=("text", "audio"))).eval()
    enc = model.encoders["audio"]
    model.set_voice_bank(enc.mean_state(_voices(torch.zeros(WHISPER_WIDTH), 8), torch.full((8,), 12)))
    enc.gate.copy_(torch.tensor([0.5, 10.0]))
    with torch.no_grad():
        model.neutral_discount[0] = torch.tensor([3.0, 0.0, 0.0])
        model.emotion_prior.copy_(torch.arange(7.0) / 10)
    g = torch.Generator().manual_seed(2)
    distances = {"audio": torch.tensor([0.3, 0.6, 5.0])}  # familiar, a little beyond d0, far beyond
    voice = [x.expand(3, -1) for x in (torch.randn(1, 7, generator=g) * 4, torch.randn(1, 3, generator=g))]
    senses = {"text": (torch.randn(1, 7, generator=g).expand(3, 7), torch.randn(3, 3, generator=g)),
              "audio": tuple(model.calibrated("audio", h, voice[h], distances["audio"]) for h in (0, 1))}
    mask = torch.tensor([[True, True, False]] * 3)
    out = model.fuse({}, mask, senses, distances).emotion_logits
    logp = {m: em.log_softmax(-1) for m, (em, _) in senses.items()}
    args = (mask, model.fusion_weight[0], model.emotion_prior)
    doubts = model.doubts(distances)  # 1, 2 and 46: the flattened voice brings that share of the prior
    torch.testing.assert_close(out, log_linear(logp, *args, model.neutral_discount[0], model.neutral[0], doubts))
    full = log_linear(logp, *args, doubts=doubts)  # no discount at all
    gap = (out - full).abs().amax(1)
    assert gap[0] > gap[1] > gap[2] and gap[2] < 0.05 * gap[0]


def test_the_voice_bank_layer_must_be_one_the_torch_layers_compute():
    tiny_config(audio_source="whisper-base-layer4", voice_bank_layer=5).validate()
    for source, layer in (("logmel-cnn", 5), ("whisper-base", 5), ("whisper-base-layer4", 7),
                          ("whisper-base-layer4", -1)):
        with pytest.raises(ValueError, match="voice_bank_layer must be a layer 1-6"):
            tiny_config(audio_source=source, voice_bank_layer=layer).validate()


def test_path_options_expand_a_leading_tilde(tmp_path, monkeypatch):
    """--voice ~/voice SPEC SPEC and --cache ~/cache (quoted, or --cache=~/cache: no shell expands them) reached the
    program as "~/voice" ("no such checkpoint folder") and a cache folder named ~ here."""
    got = []

    def parts(checkpoint, specs, cache, device="auto"):
        got.append((checkpoint, cache))
        raise CorpusError("stop here")  # what is read is not what is checked

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(familiarity, "voice_parts", parts)
    assert familiarity.main(["--voice", "~/voice", "ravdess=x", "emovo=y", "--cache", "~/cache", "--device",
                             "cpu"]) == 2
    assert got == [(str(tmp_path / "voice"), str(tmp_path / "cache"))]
