"""Calibration of a trained model on its dev sets, by minimising the negative log-likelihood.

1. Each sense's own heads get a temperature and a bias per class, fitted on that sense's own dev
   split (``SENSE_DEV``: words on MELD or GoEmotions dev, voices on the held-out speakers, faces on FER2013
   PublicTest) by the NLL with the class weights of training (``data.class_weights``), so that
   what each sense says (the per-sense readings) fits its own corpus and keeps the balance between
   frequent and rare emotions it was trained for. A sense alone answers its reading.
2. With log-linear fusion, the fusion weights (one per head and sense, within FUSION_WEIGHTS) and the priors
   (counted once per sense beyond the first, within +-PRIOR_MAX) are fitted on all dev sets, each counted
   equally, the joined senses among them: the weights say how much each sense's evidence is worth when the senses
   come together, and each sense's neutral discount (within 0-DISCOUNT_MAX) how little a reading that says "neutral"
   counts beside another sense that shows something clearly (``model.log_linear``; the words' "neutral" is no
   evidence for which emotion a voice shows); a voice the gate doubts (step 3) is flattened here, as in use.
3. The voice's familiarity gate (Whisper head only): the head keeps the training voices (``voices``)
   and flattens the reading of a voice unlike them, dividing its calibrated logits by
   1 + slope x (distance - d0) beyond d0, a high quantile of the distances of its own dev voices
   (unseen speakers of the training corpora; 1: the farthest of them): a voice as familiar as most
   of those is read as calibrated. The slope
   can't be learned from corpora the voice knows: ``fit_slope`` fits it on voices trained without
   a corpus, heard on it (train.familiarity).
The dev sets are also where the model was selected: figures after calibration are on data the
calibration saw (few parameters: 6 temperatures, 30 biases, 6 weights, 6 discounts, 10 priors,
d0); the held-out corpora of the model card are the real test.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from mmsent.config import WHISPER_LAYERS
from mmsent.encoders import WhisperAudioEncoder, doubt
from mmsent.labels import MODALITIES, MODALITY_NAMES, implied_sentiment
from mmsent.model import FusionModel, log_linear

from .cache import FeatureCache
from .corpora import Sample
from .data import available, class_weights, predict_logits

log = logging.getLogger(__name__)

SENSE_DEV = {"text": ("meld", "goemotions"), "audio": ("ravdess", "emovo"), "video": ("fer2013",)}
TEMPERATURES = np.exp(np.linspace(np.log(0.2), np.log(10.0), 200))  # the grid searched
HEADS = ("emotion", "sentiment")
BIAS_L2 = 1e-3  # keeps a bias finite for a class its dev split lacks
SLOPES = np.concatenate([[0.0], np.exp(np.linspace(np.log(0.5), np.log(200.0), 80))])  # the grid fit_slope searches
BANK_MAX = 4096  # most training voices a head keeps (evenly spaced among more)
FUSION_WEIGHTS = (0.0, 2.0)  # the range of a log-linear fusion weight (the default checkpoint's: 0.93-1.12):
# a lone sense's reading is raised to its weight, which sharpens it as a temperature would: 4 dev clips took it to
# 7,724 (every reading one-hot)
PRIOR_MAX = 3.0  # a log-linear prior (minus the log base rates) stays within +-this (the default checkpoint's: +-1.1):
# four joined dev clips of one emotion took it to 15 (every joined reading that emotion), of four to +-2,500
DISCOUNT_MAX = 1000.0  # a neutral discount stays within 0-this (the default checkpoint's: 35.8; fits of 60-250 in
# docs/experiments.md): its exponent is this x the squared clarity of the clearest other sense, so at 1000 words that
# say neutral 0.5 keep 3 % of their weight beside a face read as faintly as a talking face (clarity 0.07): set aside
# beside anything, further only beside a uniform reading. 8 contrived dev clips took it to 6,700, a joined dev set
# three quarters of whose words say neutral to 7.5e5


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


def range_end(value: float, low: float, high: float) -> str | None:
    """"max" or "min" where ``value`` is (as float32 holds it) the end ``high`` or ``low`` of a range, None inside."""
    return "max" if np.isclose(value, high, rtol=1e-6) else "min" if np.isclose(value, low, rtol=1e-6) else None


def _owner(sense: str) -> str:
    """A sense's everyday name as its owner, for the log: "the words'", "the voice's"."""
    name = MODALITY_NAMES[sense]
    return f"the {name}'" if name.endswith("s") else f"the {name}'s"


def grid_end(t: float) -> str | None:
    """"max" or "min" where ``t`` (from grid_temperature or fit_sense) is an end of the grid searched, None inside it:
    at an end, the NLL still falls beyond it, so the best temperature is ``t`` or further out, not ``t``."""
    return range_end(t, TEMPERATURES[0], TEMPERATURES[-1])


ENDS = {"max": "upper", "min": "lower"}  # grid_end's answers, as the log says them


def fusion_end(key: str, value: float) -> str | None:
    """range_end's answer for a fitted fusion weight or neutral discount (``key``) at an end of its range; a
    discount's lower end, 0, is none: no discount, the sense counted in full, as the voice's and the face's are."""
    if key == "fusion_weight":
        return range_end(value, *FUSION_WEIGHTS)
    return "max" if range_end(value, 0.0, DISCOUNT_MAX) == "max" else None


def fit_sense(logits: np.ndarray, labels: np.ndarray, weight: torch.Tensor | None = None) -> tuple[float, np.ndarray]:
    """The temperature T and the bias b (K,), summing to 0, that minimise the NLL of
    softmax(logits / T + b), each class weighted by ``weight`` (K,) if given: T starts from the best
    of a log grid, then both by L-BFGS. T stays within the grid's range (``grid_end`` says where it stopped
    at an end): a few dev samples that the logits get wrong would push it on to thousands, every reading flat."""
    x, y = torch.as_tensor(logits, dtype=torch.float64), torch.as_tensor(labels)
    weight = None if weight is None else torch.as_tensor(weight, dtype=torch.float64)
    start = grid_temperature(logits, labels, weight)
    low, high = float(TEMPERATURES[0]), float(TEMPERATURES[-1])
    log_t = torch.tensor(float(np.log(start)), dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t, bias], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        t = log_t.clamp(np.log(low), np.log(high)).exp()
        loss = _nll(x / t + bias, y, weight) + BIAS_L2 * bias.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    b = bias.detach().numpy()
    return float(np.clip(float(log_t.detach().exp()), low, high)), b - b.mean()


def voice_means(samples: list[Sample], caches: dict[str, FeatureCache]) -> torch.Tensor:
    """(N, width): what the voice bank compares of each distinct unperturbed sample with a voice, at
    most BANK_MAX of them, evenly spaced: its cached "voice" mean (config.voice_bank_layer) or the
    ``WhisperAudioEncoder.mean_state`` of its cached Whisper states."""
    ids = list(dict.fromkeys(s.feature_id("audio") for s in sorted(samples, key=lambda s: s.id)
                             if s.original and available(s, caches)[1]))
    ids = [ids[int(i)] for i in np.linspace(0, len(ids) - 1, BANK_MAX)] if len(ids) > BANK_MAX else ids
    if "voice" in caches:
        return torch.stack([caches["voice"][i].float() for i in ids]) if ids else torch.zeros(0, 0)
    states = [caches["audio"][i] for i in ids]
    return torch.cat([WhisperAudioEncoder.mean_state(x[None], torch.tensor([len(x)])) for x in states]) \
        if ids else torch.zeros(0, 0)


def calibrate(model: FusionModel, dev: dict[str, list[Sample]], caches: dict[str, FeatureCache],
              voices: list[Sample] = (), slope: float = 0.0, quantile: float = 1.0, own_dev: list[str] = ()) -> dict:
    """Set each sense's temperatures and biases (and the log-linear fusion weights and priors) in place;
    with a Whisper voice head, keep ``voices`` (training samples) as its bank, when given, and set its
    gate: d0 the ``quantile`` of the own dev voices' distances (1: the farthest), ``slope`` as given.
    ``own_dev``: dev sets (a user's labelled clips) that count, beside SENSE_DEV's, for the voice and the
    face. Returns what was set."""
    sense_dev = {m: names + (tuple(own_dev) if m != "text" else ()) for m, names in SENSE_DEV.items()}
    model.temperature.fill_(1.0)
    biases = (model.emotion_bias, model.sentiment_bias)
    for b in biases:
        b.zero_()
    if voices and "audio" in model.encoders and model.config.audio_source in WHISPER_LAYERS:
        means = voice_means(list(voices), caches)
        if len(means):
            model.set_voice_bank(means)
    if model.config.voice_bank:
        model.encoders["audio"].gate.zero_()  # the voice's raw readings first
    outputs = {name: predict_logits(model, samples, caches) for name, samples in dev.items() if samples}
    for m in model.sense_heads:
        i = MODALITIES.index(m)
        for h, head in enumerate(HEADS):
            xs, ys = [], []
            for name in sense_dev[m]:
                if name not in outputs:
                    continue
                own, labels = outputs[name][f"{m}/{head}"], _labels(dev[name], head)
                keep = outputs[name]["mask"][:, i] & (labels >= 0)
                xs.append(own[keep])
                ys.append(labels[keep])
            if not (xs and sum(len(y) for y in ys)):
                log.warning("calibration: no dev samples of their own for %s %s head (%s dev): left "
                            "uncalibrated (temperature 1, no biases)", _owner(m), head, " or ".join(sense_dev[m]))
                continue
            ys = np.concatenate(ys)  # weighted as in training: a sense keeps its balance of rare classes
            t, b = fit_sense(np.concatenate(xs), ys, class_weights(ys.tolist(), xs[0].shape[1]))
            if end := grid_end(t):
                log.warning("calibration: %s %s temperature stopped at %.1f, the %s end of the range "
                            "allowed (%.1f-%.1f), fitted on %d dev samples: its readings are %s as far as allowed, "
                            "where the fit would go further (few dev samples, or ones unlike the training, do "
                            "that)",
                            _owner(m), head, t, ENDS[end], TEMPERATURES[0], TEMPERATURES[-1], len(ys),
                            "flattened" if end == "max" else "sharpened")
            model.temperature[i, h] = t
            biases[h][i] = torch.as_tensor(b, dtype=biases[h].dtype)
    report = {"temperature": {m: dict(zip(HEADS, model.temperature[MODALITIES.index(m)].tolist()))
                              for m in model.sense_heads},
              "bias": {m: {head: [round(v, 4) for v in biases[h][MODALITIES.index(m)].tolist()]
                           for h, head in enumerate(HEADS)} for m in model.sense_heads}}
    if model.config.voice_bank:
        own = [outputs[n]["audio/distance"] for n in sense_dev["audio"] if n in outputs]
        own = np.concatenate(own) if own else np.zeros(0)
        own = own[~np.isnan(own)]
        d0 = float(np.quantile(own, quantile)) if len(own) else 2.0  # no dev voices: never
        model.encoders["audio"].gate.copy_(torch.tensor([d0, slope]))
        report["familiarity"] = {"voices": model.config.voice_bank, "d0": round(d0, 4), "quantile": quantile,
                                 "slope": slope}
    if model.config.fusion == "log-linear":
        _fit_fusion(model, dev, outputs)
        for key in ("fusion_weight", "neutral_discount"):
            report[key] = {m: dict(zip(HEADS, getattr(model, key)[:, MODALITIES.index(m)].tolist()))
                           for m in model.sense_heads}
    for line in report_lines(report):
        log.info("calibration: %s", line)
    return report


def report_lines(report: dict) -> list[str]:
    """The log lines of what ``calibrate`` set, one per sense: "voice: emotion T=1.42, sentiment T=0.97; fusion weight
    emotion 1.10, sentiment 0.85; ..." (a temperature, a fusion weight or a neutral discount at an end of its range
    marked; the biases are in the report alone)."""
    lines = []
    for m, temperatures in report["temperature"].items():
        line = ", ".join(f"{head} T={t:.2f}" + (f" ({ENDS[grid_end(t)]} bound)" if grid_end(t) else "")
                         for head, t in temperatures.items())
        for key in ("fusion_weight", "neutral_discount"):
            if key in report:
                line += f"; {key.replace('_', ' ')} " + ", ".join(
                    f"{h} {v:.2f}" + (f" ({ENDS[end]} bound)" if (end := fusion_end(key, v)) else "")
                    for h, v in report[key][m].items())
        if m == "audio" and "familiarity" in report:
            gate = report["familiarity"]
            line += (f"; familiarity gate d0 {gate['d0']:.3f} (quantile {gate['quantile']:g} of the dev voices' "
                     f"distances), slope {gate['slope']:g}")
        lines.append(f"{MODALITY_NAMES[m]}: {line}")
    return lines


def _fit_fusion(model: FusionModel, dev: dict[str, list[Sample]], outputs: dict[str, dict]) -> None:
    """Fusion weights (within FUSION_WEIGHTS), neutral discounts (within 0-DISCOUNT_MAX) and priors (within
    +-PRIOR_MAX) by L-BFGS on the mean over dev sets of each set's NLL; the log warns where a weight or a prior stops
    at an end of its range, or a discount at its upper end (0 is no discount: a sense counted in full)."""
    device = model.temperature.device
    # from training's weights, within the range: beyond it the clamped weight would have no gradient to come back
    weight = model.fusion_weight.detach().cpu().clamp(*FUSION_WEIGHTS).requires_grad_(True)
    priors = [p.detach().cpu().clamp(-PRIOR_MAX, PRIOR_MAX).requires_grad_(True)
              for p in (model.emotion_prior, model.sentiment_prior)]
    discount = torch.zeros_like(model.neutral_discount, device="cpu", requires_grad=True)
    data = []
    for name, out in outputs.items():
        mask = torch.as_tensor(out["mask"])
        for h, head in enumerate(HEADS):
            labels = torch.as_tensor(_labels(dev[name], head))
            keep = labels >= 0
            if not keep.any():
                continue
            distances = {m: torch.as_tensor(out[f"{m}/distance"], device=device).nan_to_num()  # NaN: no voice
                         for m in model.sense_heads if f"{m}/distance" in out}
            senses = {m: torch.nan_to_num(model.calibrated(m, h, torch.as_tensor(out[f"{m}/{head}"], device=device),
                                                           distances.get(m)).cpu()).log_softmax(-1)[keep]
                      for m in model.sense_heads}
            doubts = {m: g.cpu()[keep] for m, g in model.doubts(distances).items()}
            data.append((h, labels[keep], mask[keep], senses, doubts))
    optimizer = torch.optim.LBFGS([weight, *priors, discount], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = 0.0
        for h, labels, mask, senses, doubts in data:
            fused = log_linear(senses, mask, weight[h].clamp(*FUSION_WEIGHTS), priors[h].clamp(-PRIOR_MAX, PRIOR_MAX),
                               discount[h].clamp(0.0, DISCOUNT_MAX), model.neutral[h], doubts)
            loss = loss + _nll(fused, labels) / len(data)
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        model.fusion_weight.copy_(weight.clamp(*FUSION_WEIGHTS))  # never against its own evidence, nor one-hot
        model.emotion_prior.copy_(priors[0].clamp(-PRIOR_MAX, PRIOR_MAX))
        model.sentiment_prior.copy_(priors[1].clamp(-PRIOR_MAX, PRIOR_MAX))
        model.neutral_discount.copy_(discount.clamp(0.0, DISCOUNT_MAX))
    for h, head in enumerate(HEADS):
        _warn_ends(model, h, sum(len(labels) for g, labels, *_ in data if g == h))


def _warn_ends(model: FusionModel, h: int, n: int) -> None:
    """Warn of each fusion weight, neutral discount and prior of head ``h`` that stopped at an end of its range (``n``
    dev samples)."""
    head = HEADS[h]
    for m in model.sense_heads:
        w = float(model.fusion_weight.detach()[h, MODALITIES.index(m)])
        if end := fusion_end("fusion_weight", w):
            log.warning("calibration: %s %s fusion weight stopped at %.2f, the %s end of the range allowed "
                        "(%g-%g), fitted on %d dev samples: it counts as %s as allowed, where the fit would go "
                        "further (few dev samples, or ones unlike the training, do that)", _owner(m), head,
                        w, ENDS[end], *FUSION_WEIGHTS, n, "much" if end == "max" else "little")
        d = float(model.neutral_discount[h, MODALITIES.index(m)])
        if fusion_end("neutral_discount", d):
            log.warning("calibration: %s %s neutral discount stopped at %g, the upper end of the range allowed "
                        "(0-%g), fitted on %d dev samples: where it says neutral it steps aside beside another sense "
                        "as far as allowed, where the fit would go further (few dev samples, or many that pair a "
                        "reading of neutral with another sense's emotion, do that)", _owner(m), head, d,
                        DISCOUNT_MAX, n)
    names = (model.config.emotions, model.config.sentiments)[h]
    prior = (model.emotion_prior, model.sentiment_prior)[h].detach().tolist()
    if ends := [f"{name} {p:+.2f}" for name, p in zip(names, prior) if range_end(p, -PRIOR_MAX, PRIOR_MAX)]:
        log.warning("calibration: the %s prior stopped at an end of the range allowed (+-%g) for %s, fitted on %d "
                    "dev samples: joined senses lean to or from those as far as allowed, where the fit would go "
                    "further (few dev samples, or ones of few emotions, do that)", head, PRIOR_MAX, ", ".join(ends), n)


def fit_slope(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, float]]) -> float:
    """The slope of the grid SLOPES that minimises the mean over ``parts`` of the NLL of the gated
    readings. Each part: a voice's calibrated emotion logits (N, 7) without its gate, its distances
    (N,), the labels (N,) and that voice's d0. Give each voice's own dev voices and a corpus it
    never heard as separate parts: the slope that flattens the strangers without blurring the
    familiar ones."""
    data = [(torch.as_tensor(z, dtype=torch.float64), torch.as_tensor(d, dtype=torch.float64),
             torch.as_tensor(y), d0) for z, d, y, d0 in parts if len(y)]

    def loss(slope: float) -> float:
        return float(np.mean([float(_nll(z / doubt(d, d0, slope)[:, None], y)) for z, d, y, d0 in data]))

    return float(SLOPES[int(np.argmin([loss(s) for s in SLOPES]))])
