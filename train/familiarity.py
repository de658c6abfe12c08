"""Fit the slope of the voice's familiarity gate (train.calibrate) on voices that each never heard one corpus.

    python -m train.familiarity --cache /tmp/mmsent-cache \
        --voice /tmp/voice-ravdess ravdess=../shared/data/ravdess:17-20 emovo=../shared/data/emovo \
        --voice /tmp/voice-emovo emovo=../shared/data/emovo:m3 ravdess=../shared/data/ravdess

Each ``--voice`` names a voice-only checkpoint (trained by train.train, so it keeps its training
voices and its gate's d0), the ``--data`` spec of its own dev voices (unseen speakers of its
corpora) and that of a corpus it was not trained on. The slope that makes the gated readings most
likely over all these sets, each counted equally, is printed on stdout (for train.train
``--familiarity-slope``); the figures of each set without and with the gate go to stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys

import numpy as np
import torch

from mmsent.checkpoint import CheckpointError, checkpoint_folder, load_checkpoint, pick_device
from mmsent.encoders import doubt

from .args import DEFAULT_CACHE
from .calibrate import fit_slope
from .corpora import CorpusError, read_data_spec, user_path
from .data import predict_logits, softmax
from .extract import extract_all
from .metrics import expected_calibration_error

log = logging.getLogger("train.familiarity")


def voice_parts(checkpoint: str, specs: list[str], cache: str | None, device: str | None = None
                ) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, float]]:
    """For each data spec: (name, the voice's calibrated emotion logits without its gate, the voices'
    distances, the labels, the voice's d0), over the labelled samples with a voice."""
    model = load_checkpoint(checkpoint_folder(checkpoint), pick_device(device))
    if "audio" not in model.encoders or not model.config.voice_bank:
        raise CheckpointError(f"{checkpoint} keeps no training voices: train (or recompose with --epochs 0 --init) "
                              "a Whisper voice with this mmsent")
    gate = model.encoders["audio"].gate
    d0 = float(gate[0])
    gate[1] = 0.0  # the readings without the gate
    sets = [read_data_spec(spec) for spec in specs]
    caches = extract_all(model, [s for _, samples in sets for s in samples], cache)
    parts = []
    for spec, (name, samples) in zip(specs, sets):
        out = predict_logits(model, samples, caches)
        labels = np.array([-1 if s.emotion is None else s.emotion for s in samples])
        keep = ~np.isnan(out["audio/distance"]) & (labels >= 0)
        if not keep.any():  # its slope would be 0: the gate off, without a word
            raise CorpusError(f"{spec}: none of its {len(samples)} samples is a voice with an emotion: give labelled "
                              "speech (e.g. ravdess=DIR, emovo=DIR, folders=DIR)")
        parts.append((name, out["audio/emotion"][keep], out["audio/distance"][keep], labels[keep], d0))
    return parts


def describe(name: str, logits: np.ndarray, distance: np.ndarray, labels: np.ndarray, d0: float, slope: float) -> str:
    """One set's accuracy, and its ECE and mean confidence without and with the gate."""
    plain = softmax(logits)
    gated = softmax(logits / doubt(torch.as_tensor(distance), d0, slope).numpy()[:, None])
    return (f"{name}: n {len(labels)}, accuracy {np.mean(plain.argmax(1) == labels):.3f}, median distance "
            f"{np.median(distance):.3f} (d0 {d0:.3f}); ECE {expected_calibration_error(plain, labels):.3f} -> "
            f"{expected_calibration_error(gated, labels):.3f}, mean confidence {plain.max(1).mean():.3f} -> "
            f"{gated.max(1).mean():.3f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.familiarity", description=__doc__.split("\n\n")[0])
    p.add_argument("--voice", nargs=3, type=user_path, action="append", required=True,
                   metavar=("CHECKPOINT", "OWN_DEV", "UNSEEN"),
                   help="a voice checkpoint, the --data spec of its own dev voices, that of a corpus it never heard")
    p.add_argument("--cache", type=user_path, default=DEFAULT_CACHE, help="feature cache folder ('' = in memory)")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto")
    args = p.parse_args(argv)
    try:
        pick_device(args.device)
    except ValueError as e:
        p.error(str(e))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    try:
        with torch.no_grad():
            parts = [(ck, *part) for ck, own, unseen in args.voice
                     for part in voice_parts(ck, [own, unseen], args.cache or None, args.device)]
    except (CheckpointError, CorpusError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    slope = fit_slope([(z, d, y, d0) for _, _, z, d, y, d0 in parts])
    for ck, name, z, d, y, d0 in parts:
        log.info("%s on %s", ck, describe(name, z, d, y, d0, slope))
    log.info("slope %.4g", slope)
    print(f"{slope:.6g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
