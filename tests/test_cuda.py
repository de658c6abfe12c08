"""The CUDA paths: automatic device choice, the model on the GPU, training (alone and under torchrun
with NCCL) and evaluation with --device cuda. Skipped where no CUDA device exists (CI); run them on
a machine with a GPU: pytest tests/test_cuda.py."""

import csv
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from mmsent.checkpoint import load_checkpoint, pick_device, save_checkpoint
from mmsent.config import tiny_config
from mmsent.labels import EMOTIONS
from mmsent.model import Inputs, build_model
from train.synthetic import MELD_HEADER

from conftest import ROOT, tiny_whisper

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")


def _inputs(model, n=6) -> Inputs:
    gen = torch.Generator().manual_seed(0)
    tok = model.tokenizer([f"sentence number {i} is here" for i in range(n)], padding=True, return_tensors="pt")
    mask = torch.ones(n, 3, dtype=torch.bool)
    mask[0, 1] = mask[1, 2] = mask[2, 0] = False
    return Inputs(mask=mask, input_ids=tok["input_ids"], attention_mask=tok["attention_mask"],
                  mel=torch.randn(n, 64, 120, generator=gen), mel_lengths=torch.tensor([120, 90, 60, 120, 30, 100]),
                  clips=torch.randn(n, 3, 16, 112, 112, generator=gen))


def test_auto_device_is_cuda():
    assert pick_device().type == "cuda"
    assert pick_device("auto").type == "cuda"


def test_model_on_cuda_agrees_with_cpu_and_trains():
    torch.manual_seed(0)
    model = build_model(tiny_config(trained_branches=("text", "audio", "video"), text_tune_layers=1)).eval()
    x = _inputs(model)
    with torch.no_grad():
        cpu = model(x).emotion_logits.softmax(-1)
        gpu_model = model.to("cuda")
        out = gpu_model(x.to("cuda"))
    assert out.emotion_logits.device.type == "cuda" and out.sentiment_logits.device.type == "cuda"
    assert torch.allclose(out.emotion_logits.softmax(-1).cpu(), cpu, atol=2e-2)  # video runs in bf16 on both
    gpu_model.train()
    loss = gpu_model(x.to("cuda")).emotion_logits.logsumexp(-1).mean()
    loss.backward()
    grads = [p.grad for p in gpu_model.parameters() if p.requires_grad and p.grad is not None]
    assert grads and all(g.device.type == "cuda" and torch.isfinite(g).all() for g in grads)


def test_voice_gate_on_cuda_agrees_with_cpu(tmp_path):
    """The bank (float16), its distances and the doubt on the GPU; the bank is set there too."""
    from mmsent.features import WHISPER_WIDTH

    torch.manual_seed(0)
    model = build_model(tiny_config(audio_source="whisper-base", trained_branches=("audio",))).eval()
    model.set_voice_bank(torch.randn(50, WHISPER_WIDTH))
    model.encoders["audio"].gate.copy_(torch.tensor([0.5, 20.0]))
    mask = torch.zeros(4, 3, dtype=torch.bool)
    mask[:3, 1] = True
    x = Inputs(mask=mask, audio_states=torch.randn(4, 30, WHISPER_WIDTH), audio_lengths=torch.tensor([30, 20, 5, 1]))
    with torch.no_grad():
        cpu = model(x)
        gpu = load_checkpoint(save_checkpoint(model, tmp_path / "ck"), "cuda")(x.to("cuda"))
    assert gpu.distances["audio"].device.type == "cuda"
    torch.testing.assert_close(gpu.distances["audio"].cpu(), cpu.distances["audio"], atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(gpu.per_modality["audio"][0].cpu(), cpu.per_modality["audio"][0], atol=1e-2, rtol=1e-2)
    gpu_model = model.to("cuda")
    gpu_model.set_voice_bank(torch.randn(10, WHISPER_WIDTH))  # from CPU voices: kept on the model's device
    assert gpu_model.encoders["audio"].bank.device.type == "cuda" and gpu_model.config.voice_bank == 10


def test_checkpoint_loads_onto_cuda(tmp_path):
    model = build_model(tiny_config(trained_branches=("text", "audio")))
    save_checkpoint(model, tmp_path / "ck")
    loaded = load_checkpoint(tmp_path / "ck", "cuda")
    assert loaded.device.type == "cuda"
    assert all(p.device.type == "cuda" for p in loaded.parameters())


def _meld_csv(path: Path, n: int, seed: int) -> None:
    """A small MELD-format CSV whose emotion is said by one word (the text branch can learn it)."""
    gen = torch.Generator().manual_seed(seed)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(MELD_HEADER)
        for i in range(n):
            e = EMOTIONS[int(torch.randint(0, 7, (1,), generator=gen))]
            s = {"joy": "positive", "neutral": "neutral", "surprise": "positive"}.get(e, "negative")
            w.writerow([i, f"I feel {e} about this today", "A", e, s, i // 4, i % 4, 1, 1,
                        "00:00:01,000", "00:00:02,000"])


@pytest.fixture(scope="module")
def meld(tmp_path_factory):
    folder = tmp_path_factory.mktemp("meld")
    _meld_csv(folder / "train_sent_emo.csv", 96, 0)
    _meld_csv(folder / "dev_sent_emo.csv", 48, 1)
    return folder


TRAIN = ["--config", "tiny", "--branches", "text", "--text-tune-layers", "1", "--epochs", "15", "--patience", "15",
         "--batch-size", "8", "--lr", "5e-3", "--lr-text", "5e-3", "--modality-dropout", "0", "--label-smoothing", "0"]


def _run(args: list[str], torchrun: bool = False) -> subprocess.CompletedProcess:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1"] if torchrun \
        else [sys.executable]
    return subprocess.run(launcher + args, cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("torchrun", [False, True], ids=["alone", "torchrun-nccl"])
def test_train_and_evaluate_on_cuda(meld, tmp_path, torchrun):
    out = tmp_path / "ck"
    run = _run(["-m", "train.train", "--meld", str(meld), "--cache", str(tmp_path / "cache"), "--out", str(out),
                "--device", "cuda", *TRAIN], torchrun)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (out / "model.safetensors").is_file()
    assert json.loads((out / "config.json").read_text())["training"]["world_size"] == 1
    ev = _run(["-m", "train.evaluate", "--checkpoint", str(out), "--data", f"meld={meld / 'dev_sent_emo.csv'}",
               "--cache", str(tmp_path / "cache"), "--device", "cuda", "--json", str(tmp_path / "m.json")])
    assert ev.returncode == 0, ev.stderr[-3000:]
    acc = json.loads((tmp_path / "m.json").read_text())["meld"]["emotion"]["accuracy"]
    assert acc > 0.5, f"the word that names the emotion was not learned on cuda: accuracy {acc:.2f} (chance 0.14)"


def test_whisper_layers_on_cuda_agree_with_cpu(shared_data):
    """The voice's states after the 4th Whisper layer, computed on the GPU beside the GPU's ASR model."""
    from mmsent import features, media
    from mmsent.transcribe import load_backend

    audio = media.load_audio(sorted((shared_data / "ravdess").rglob("*.flac"))[0])
    gpu = features.whisper_states(audio, load_backend("faster-whisper", "base", "cuda").model, 4)
    cpu = features.whisper_states(audio, load_backend("faster-whisper", "base", "cpu").model, 4)
    assert gpu.device.type == "cpu"  # returned for the batch, like CTranslate2's states
    torch.testing.assert_close(gpu, cpu, atol=1e-2, rtol=1e-2)


def test_tiny_whisper_layers_on_cuda_agree_with_cpu(tmp_path, monkeypatch):
    """The voice's torch layers of a random Whisper of base's width on CUDA against the CPU, on a padded
    batch (its mask too), whichever device CTranslate2 itself can use (the test below checks that)."""
    import numpy as np

    from mmsent import asr_models, features, whisper_layers

    _, ct2 = tiny_whisper(tmp_path, width=features.WHISPER_WIDTH, layers=4)
    monkeypatch.setattr(asr_models, "embedded_model_dir", lambda: ct2)
    whisper_layers.load_layers.cache_clear()
    try:
        recogniser = asr_models.load_faster_whisper(str(ct2), "cpu")
        gen = np.random.default_rng(0)
        mels = [features._whisper_mel(0.1 * gen.standard_normal(n).astype(np.float32), recogniser)
                for n in (16000, 72000)]
        lengths = torch.tensor([m.shape[1] // 2 for m in mels])
        batch = torch.zeros(2, 80, 2 * int(lengths.max()))
        for i, m in enumerate(mels):
            batch[i, :, : m.shape[1]] = torch.from_numpy(m)
        with torch.no_grad():
            cpu = whisper_layers.load_layers(4, "cpu")(batch, lengths, after=(2, 4))
            gpu = whisper_layers.load_layers(4, "cuda")(batch.cuda(), lengths.cuda(), after=(2, 4))
        assert all(g.device.type == "cuda" for g in gpu)
        for g, c in zip(gpu, cpu):
            n = int(lengths[0])
            torch.testing.assert_close(g[0, :n].float().cpu(), c[0, :n].float(), atol=1e-2, rtol=1e-2)
            torch.testing.assert_close(g[1].float().cpu(), c[1].float(), atol=1e-2, rtol=1e-2)
    finally:
        whisper_layers.load_layers.cache_clear()


def test_tiny_whisper_on_cuda_agrees_with_cpu(tmp_path, monkeypatch):
    """A random Whisper of base's width (4 layers) converted by CTranslate2 stands in for the real one
    where its weights or the data can't be had (the test above skips): the recogniser's encoder and
    the voice's torch layers on CUDA against the CPU."""
    import numpy as np
    import torch.nn.functional as F

    from mmsent import asr_models, features, whisper_layers

    _, ct2 = tiny_whisper(tmp_path, width=features.WHISPER_WIDTH, layers=4)
    monkeypatch.setattr(asr_models, "embedded_model_dir", lambda: ct2)  # what the torch layers read
    whisper_layers.load_layers.cache_clear()
    try:
        with warnings.catch_warnings(record=True) as fell_back:
            warnings.simplefilter("always")
            gpu = asr_models.load_faster_whisper(str(ct2), "cuda")
        if gpu.model.device != "cuda" and any("libcublas.so.12" in str(w.message) for w in fell_back):
            pytest.skip(f"CTranslate2 can't use CUDA on this machine, which lacks CUDA 12's cuBLAS (the pinned "
                        f"torch installs it): {fell_back[-1].message}")
        assert gpu.model.device == "cuda"  # not the CPU fallback: CTranslate2 uses the GPU
        cpu = asr_models.load_faster_whisper(str(ct2), "cpu")
        gen = np.random.default_rng(0)
        clips = [0.1 * gen.standard_normal(n).astype(np.float32) for n in (16000, 40000, 72000)]
        (a, lengths, means), (b, same, gpu_means) = (features.whisper_batch(clips, m, 4, mean_after=4)
                                                     for m in (cpu, gpu))
        assert torch.equal(lengths, same) and b.device.type == "cpu"
        torch.testing.assert_close(b, a, atol=1e-2, rtol=1e-2)
        torch.testing.assert_close(gpu_means, means, atol=1e-2, rtol=1e-2)
        (last, n), (gpu_last, _) = (features.whisper_batch(clips, m) for m in (cpu, gpu))  # CTranslate2: int8, float16
        assert F.cosine_similarity(gpu_last[0, : n[0]], last[0, : n[0]], dim=1).mean() > 0.99
    finally:
        whisper_layers.load_layers.cache_clear()


def test_expression_cnn_trains_on_cuda(tmp_path):
    """train.fer on a GPU when present: the run records it, and its weights load and read as served."""
    from test_expression import _fake_fer

    from mmsent.expression import load_expression_net
    from train import fer

    _fake_fer(tmp_path / "fer", per_class=3)
    record = fer.main(["--data", str(tmp_path / "fer"), "--out", str(tmp_path / "out"), "--state",
                       str(tmp_path / "state.pt"), "--cache", str(tmp_path / "cache"), "--epochs", "1", "--batch", "7",
                       "--widths", "8,16", "--blocks", "1,1", "--stem", "4"])
    assert record["training"]["device"] == "cuda" and record["finished"]
    assert load_expression_net("cuda", folder=tmp_path / "out", sha256="")[1] == record["sha256"]
