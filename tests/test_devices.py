"""Device choice where this machine can't show it: the GPUs here are fakes (monkeypatched torch.cuda answers),
standing in for cards that don't exist on CI. The CUDA runs themselves are in test_cuda.py."""

import pytest
import torch

from mmsent import checkpoint, encoders, transcribe
from train import familiarity

ARCHS = ["sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]  # the pinned torch's CUDA build


@pytest.fixture()
def gpu(monkeypatch):
    """A machine with one NVIDIA GPU of the capability the test sets (``gpu(major, minor)``)."""
    def install(major: int, minor: int, archs=ARCHS):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
        monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index=None: (major, minor))
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=None: f"a GPU {major}.{minor}")
        monkeypatch.setattr(torch.cuda, "get_arch_list", lambda: list(archs))
    return install


@pytest.mark.parametrize("capability, archs", [((7, 5), ARCHS), ((8, 9), ARCHS), ((12, 1), ARCHS),
                                               ((10, 3), ["sm_80", "compute_90"]),  # PTX runs on later ones
                                               ((9, 0), ["gfx90a", "gfx942"])])  # ROCm's names: not judged
def test_a_gpu_this_torch_runs_is_picked(gpu, capability, archs):
    """By its number, however it was named: "cuda" and "cuda:0" were two keys, and shared_default() then
    shared_default("cuda:0") loaded two copies of the model onto one GPU."""
    gpu(*capability, archs=archs)
    assert checkpoint.pick_device() == checkpoint.pick_device("cuda") == checkpoint.pick_device("cuda:0") \
        == torch.device("cuda", 0)


@pytest.mark.parametrize("capability, archs", [((6, 1), ARCHS), ((8, 0), ["sm_86", "sm_90"]), ((7, 0), ["sm_75"])])
def test_a_gpu_this_torch_has_no_kernels_for_is_passed_over_or_refused(gpu, capability, archs):
    """A Pascal card (a P100, a GTX 1080) under a torch built from Volta on: the first kernel would fail
    ("no kernel image is available"), far from the choice."""
    gpu(*capability, archs=archs)
    major, minor = capability
    with pytest.warns(UserWarning, match=rf"a GPU {major}\.{minor} \(compute capability {major}\.{minor}\) is not "
                                         r"supported by this torch .*: running on the CPU"):
        assert checkpoint.pick_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match=r"device 'cuda': a GPU .* is not supported by this torch .*Use --device cpu"):
        checkpoint.pick_device("cuda")


def test_bfloat16_counts_as_fast_only_from_ampere_on(gpu):
    """torch.cuda.is_bf16_supported() says yes on a T4 or a V100, which only emulate it."""
    for capability, fast in (((7, 0), False), ((7, 5), False), ((8, 0), True), ((9, 0), True)):
        gpu(*capability)
        assert encoders.bf16_supported(torch.device("cuda", 0)) is fast, capability


def test_a_gpu_named_with_or_without_its_number_shares_one_recogniser():
    """The pipeline names the model's device ("cuda:0"), transcribe()'s auto says "cuda": one model on the
    GPU, not two. Here CTranslate2 can't use CUDA, and both are the same model on the CPU."""
    transcribe._load_cached.cache_clear()
    try:
        with pytest.warns(UserWarning, match="speech recognition runs on the CPU"):
            first = transcribe.load_backend("faster-whisper", "base", "cuda")
        assert transcribe.load_backend("faster-whisper", "base", "cuda:0") is first
    finally:
        transcribe._load_cached.cache_clear()


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is here")
def test_familiarity_refuses_a_device_this_machine_lacks(capsys):
    with pytest.raises(SystemExit) as e:
        familiarity.main(["--voice", "ckpt", "own", "unseen", "--device", "cuda"])
    assert e.value.code == 2 and "this machine has no CUDA device" in capsys.readouterr().err
