"""Calibration of a trained model on its dev sets, by minimising the negative log-likelihood.

1. Each sense's own heads get a temperature and a bias per class, fitted on that sense's own dev
   split (``SENSE_DEV``: words on MELD dev, voices on the held-out speakers, faces on FER2013
   PublicTest) by the NLL with the class weights of training (``data.class_weights``), so that
   what each sense says (the per-sense readings) fits its own corpus and keeps the balance between
   frequent and rare emotions it was trained for. A sense alone answers its reading.
2. With log-linear fusion, the fusion weights (one per head and sense) and the priors (counted once
   per sense beyond the first) are fitted on all dev sets, each counted equally, the joined senses
   among them: the weights say how much each sense's evidence is worth when the senses come together.
The dev sets are also where the model was selected: figures after calibration are on data the
calibration saw (few parameters: 6 temperatures, 30 biases, 6 weights, 10 priors); the held-out
corpora of the model card are the real test.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from mmsent.labels import MODALITIES, implied_sentiment
from mmsent.model import FusionModel, log_linear

from .cache import FeatureCache
from .corpora import Sample
from .data import class_weights, predict_logits

log = logging.getLogger(__name__)

SENSE_DEV = {"text": ("meld",), "audio": ("ravdess", "emovo"), "video": ("fer2013",)}
TEMPERATURES = np.exp(np.linspace(np.log(0.2), np.log(10.0), 200))  # the grid searched
HEADS = ("emotion", "sentiment")
BIAS_L2 = 1e-3  # keeps a bias finite for a class its dev split lacks


def _labels(samples: list[Sample], head: str) -> np.ndarray:
    """Targets (-1 where unknown); sentiment implied by the emotion for corpora without one."""
    if head == "emotion":
        values = [s.emotion for s in samples]
    else:
        values = [s.sentiment if s.sentiment is not None else implied_sentiment(s.emotion) for s in samples]
    return np.array([-1 if v is None else v for v in values])


def _nll(logits: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(logits, labels, weight=weight)


def grid_temperature(logits: np.ndarray, labels: np.ndarray, weight: torch.Tensor | None = None) -> float:
    """The temperature of the grid ``TEMPERATURES`` that minimises the NLL of softmax(logits / T),
    each class weighted by ``weight`` if given. For logits already calibrated elsewhere, T > 1 says
    they are over-confident here by about that factor."""
    x, y = torch.as_tensor(logits, dtype=torch.float64), torch.as_tensor(labels)
    weight = None if weight is None else torch.as_tensor(weight, dtype=torch.float64)
    return float(TEMPERATURES[int(np.argmin([float(_nll(x / t, y, weight)) for t in TEMPERATURES]))])


def fit_sense(logits: np.ndarray, labels: np.ndarray, weight: torch.Tensor | None = None) -> tuple[float, np.ndarray]:
    """The temperature T and the bias b (K,), summing to 0, that minimise the NLL of
    softmax(logits / T + b), each class weighted by ``weight`` (K,) if given: T starts from the best
    of a log grid, then both by L-BFGS."""
    x, y = torch.as_tensor(logits, dtype=torch.float64), torch.as_tensor(labels)
    weight = None if weight is None else torch.as_tensor(weight, dtype=torch.float64)
    start = grid_temperature(logits, labels, weight)
    log_t = torch.tensor(float(np.log(start)), dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t, bias], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = _nll(x / log_t.exp() + bias, y, weight) + BIAS_L2 * bias.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    b = bias.detach().numpy()
    return float(log_t.detach().exp()), b - b.mean()


def calibrate(model: FusionModel, dev: dict[str, list[Sample]], caches: dict[str, FeatureCache]) -> dict:
    """Set each sense's temperatures and biases (and the log-linear fusion weights and priors) in place;
    returns them."""
    model.temperature.fill_(1.0)
    biases = (model.emotion_bias, model.sentiment_bias)
    for b in biases:
        b.zero_()
    outputs = {name: predict_logits(model, samples, caches) for name, samples in dev.items() if samples}
    for m in model.sense_heads:
        i = MODALITIES.index(m)
        for h, head in enumerate(HEADS):
            xs, ys = [], []
            for name in SENSE_DEV[m]:
                if name not in outputs:
                    continue
                own, labels = outputs[name][f"{m}/{head}"], _labels(dev[name], head)
                keep = outputs[name]["mask"][:, i] & (labels >= 0)
                xs.append(own[keep])
                ys.append(labels[keep])
            if xs and sum(len(y) for y in ys):
                ys = np.concatenate(ys)  # weighted as in training: a sense keeps its balance of rare classes
                t, b = fit_sense(np.concatenate(xs), ys, class_weights(ys.tolist(), xs[0].shape[1]))
                model.temperature[i, h] = t
                biases[h][i] = torch.as_tensor(b, dtype=biases[h].dtype)
    report = {"temperature": {m: dict(zip(HEADS, model.temperature[MODALITIES.index(m)].tolist()))
                              for m in model.sense_heads},
              "bias": {m: {head: [round(v, 4) for v in biases[h][MODALITIES.index(m)].tolist()]
                           for h, head in enumerate(HEADS)} for m in model.sense_heads}}
    if model.config.fusion == "log-linear":
        _fit_fusion(model, dev, outputs)
        report["fusion_weight"] = {m: dict(zip(HEADS, model.fusion_weight[:, MODALITIES.index(m)].tolist()))
                                   for m in model.sense_heads}
    log.info("calibration: %s", report)
    return report


def _fit_fusion(model: FusionModel, dev: dict[str, list[Sample]], outputs: dict[str, dict]) -> None:
    """Fusion weights and priors by L-BFGS on the mean over dev sets of each set's NLL."""
    device = model.temperature.device
    weight = model.fusion_weight.detach().cpu().clone().requires_grad_(True)
    priors = [model.emotion_prior.detach().cpu().clone().requires_grad_(True),
              model.sentiment_prior.detach().cpu().clone().requires_grad_(True)]
    data = []
    for name, out in outputs.items():
        mask = torch.as_tensor(out["mask"])
        for h, head in enumerate(HEADS):
            labels = torch.as_tensor(_labels(dev[name], head))
            keep = labels >= 0
            if not keep.any():
                continue
            senses = {m: torch.nan_to_num(model.calibrated(m, h, torch.as_tensor(out[f"{m}/{head}"], device=device))
                                          .cpu()).log_softmax(-1)[keep]
                      for m in model.sense_heads}
            data.append((h, labels[keep], mask[keep], senses))
    optimizer = torch.optim.LBFGS([weight, *priors], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = 0.0
        for h, labels, mask, senses in data:
            loss = loss + _nll(log_linear(senses, mask, weight[h], priors[h]), labels) / len(data)
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        model.fusion_weight.copy_(weight.clamp(min=0.0))  # a sense never counts against its own evidence
        model.emotion_prior.copy_(priors[0])
        model.sentiment_prior.copy_(priors[1])
