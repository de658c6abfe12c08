"""Join voices trained apart into one voice whose reading is the mean of theirs.

    python -m train.ensemble --out /tmp/voice /tmp/voice-0 /tmp/voice-1 /tmp/voice-2

Each voice is a voice-only checkpoint of train.train, all with the same options but ``--seed``. One
head's answer depends on its seed (which epoch is selected, what it makes of a voice unlike its
training voices); the mean of several is steadier, and better than they are on average. The joined
voice keeps each head (``voice_members``) and one linear head over their embeddings side by side,
whose logits are the mean of the voices' calibrated logits (each voice's temperature and biases
folded into its part); its own temperature and biases start neutral, for train.train
``--voice-members N --epochs 0 --init`` (alone, or composed with the other senses) to calibrate again
on the dev split. The voices' banks of training voices and gates must be the same (they are, for the
same training clips and dev split): the joined voice keeps one.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path

import torch

from mmsent.checkpoint import VOICE_HEADS, CheckpointError, checkpoint_folder, load_checkpoint, save_checkpoint
from mmsent.labels import MODALITIES
from mmsent.model import FusionModel, build_model

from .args import STATE_FILE, earlier_run, unwritable
from .corpora import shared_path, user_path
from .heldout import inherited

log = logging.getLogger("train.ensemble")
AUDIO = MODALITIES.index("audio")
SHARED = ("bank", "bank_center", "bank_scale", "gate")  # the voice bank and its gate: one for all heads


def join_voices(voices: list[FusionModel]) -> FusionModel:
    """One voice from several trained apart (see the module's doc); raises ValueError if they differ."""
    first = voices[0].config
    for v in voices:
        if "audio" not in v.encoders or v.config.voice_members != 1:
            raise ValueError("each voice must be a checkpoint with one Whisper voice head (voice_members 1)")
        if v.config != first:
            raise ValueError(f"the voices were trained with other options: {_difference(first, v.config)}; join "
                             "voices that differ only in their seed")
        for name in SHARED:  # present in all or none: their configs (voice_bank) are the same
            mine = getattr(voices[0].encoders["audio"], name, None)
            if mine is not None and not torch.equal(mine, getattr(v.encoders["audio"], name)):
                raise ValueError(f"the voices keep other {name}s: join voices trained on the same clips, "
                                 "calibrated on the same dev split")
    joined = build_model(replace(first, voice_members=len(voices)))
    state = {k: t for k, t in voices[0].state_dict().items() if not k.startswith((VOICE_HEADS, "sense_heads.audio."))}
    for i, v in enumerate(voices):
        state.update({f"{VOICE_HEADS}{i}." + k.removeprefix(VOICE_HEADS + "0."): t
                      for k, t in v.state_dict().items() if k.startswith(VOICE_HEADS + "0.")})
    for h, (name, bias) in enumerate((("emotion", "emotion_bias"), ("sentiment", "sentiment_bias"))):
        # voice i's calibrated logits: (W_i e_i + b_i) / T_i + c_i; their mean is one linear map of [e_1 ... e_n]
        parts = [(getattr(v.sense_heads["audio"], name), v.temperature[AUDIO, h], getattr(v, bias)[AUDIO])
                 for v in voices]
        weights = [head.weight / t for head, t, _ in parts]
        state[f"sense_heads.audio.{name}.weight"] = torch.cat(weights, dim=1) / len(voices)
        state[f"sense_heads.audio.{name}.bias"] = torch.stack([head.bias / t + c for head, t, c in parts]).mean(0)
        state[bias] = state[bias].clone()
        state[bias][AUDIO] = 0.0
    state["temperature"] = state["temperature"].clone()
    state["temperature"][AUDIO] = 1.0
    joined.load_state_dict(state)
    return joined.eval()


def _difference(a, b) -> str:
    da, db = a.to_dict(), b.to_dict()
    return ", ".join(f"{k} {da[k]!r} vs {db[k]!r}" for k in da if da[k] != db[k])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.ensemble", description=__doc__.split("\n\n")[0])
    p.add_argument("voices", nargs="+", type=user_path,
                   help="voice-only checkpoints of train.train (same options, other --seed)")
    p.add_argument("--out", type=user_path, required=True, help="checkpoint folder of the joined voice")
    p.add_argument("--overwrite", action="store_true", help="replace a checkpoint or training run that --out holds")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    voices = [checkpoint_folder(v) for v in args.voices]
    if len(voices) < 2:
        p.error("give at least two voices")
    if len({v.resolve() for v in voices}) < len(voices):
        p.error(f"a voice is named twice ({' '.join(args.voices)}): give each once")
    if why := unwritable(args.out, folder=True, flag="--out"):
        p.error(why)
    out = Path(args.out)
    if any(out.resolve() == v.resolve() for v in voices):
        p.error(f"--out {args.out} is one of the voices joined: give another folder")
    earlier = earlier_run(out)
    if earlier and not args.overwrite:
        p.error(f"{args.out} holds an earlier run ({', '.join(earlier)}): give another --out, or "
                "--overwrite to replace it")
    try:
        joined = join_voices([load_checkpoint(v) for v in voices])
    except (CheckpointError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    (out / STATE_FILE).unlink(missing_ok=True)  # the state of another model: --resume would go on from it
    save_checkpoint(joined, out, training={"joined_voices": [shared_path(v) for v in voices],
                                           "init": [inherited(str(v)) for v in voices]})
    log.info("joined %d voices into %s", len(args.voices), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
