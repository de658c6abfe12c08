"""Classification metrics from predicted probabilities: accuracy, F1s, confusion, calibration.

Pure numpy, so that the figures are easy to check by hand (tests/test_evaluate.py does).
"""

from __future__ import annotations

import numpy as np

ECE_BINS = 15  # equal-width confidence bins of the expected calibration error


def confusion(labels: np.ndarray, preds: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts: row = true class, column = predicted class."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (labels, preds), 1)
    return m


def per_class(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 and support (true count) of each class from a confusion matrix."""
    tp = np.diag(m).astype(float)
    support = m.sum(axis=1).astype(float)
    predicted = m.sum(axis=0).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1, support


def class_figures(m: np.ndarray, names: tuple[str, ...]) -> dict:
    """{name: {"precision", "recall", "f1", "support"}} from a confusion matrix, None where a figure is undefined:
    recall and F1 of a class with no sample, precision of one never predicted (so that a reader of the JSON tells
    "no clips of it" from "0 of N right"; per_class's zeros there are what the averages count)."""
    precision, recall, f1, support = per_class(m)
    predicted = m.sum(axis=0)
    return {n: {"precision": float(precision[i]) if predicted[i] else None,
                "recall": float(recall[i]) if support[i] else None,
                "f1": float(f1[i]) if support[i] else None, "support": int(support[i])} for i, n in enumerate(names)}


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Sum over confidence bins of |accuracy - mean confidence| weighted by the bin's share."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece)


def classification_report(probs: np.ndarray, labels: np.ndarray, names: tuple[str, ...]) -> dict:
    """All figures for one head. probs (N, C) rows summing to 1, labels (N,) ints in [0, C).

    Macro F1 averages over the classes present in ``labels`` (a corpus may lack some of ours).
    """
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        raise ValueError("no labelled samples to evaluate")
    preds = probs.argmax(axis=1)
    m = confusion(labels, preds, len(names))
    _, _, f1, support = per_class(m)
    present = support > 0
    return {
        "n": int(len(labels)),
        "accuracy": float((preds == labels).mean()),
        "weighted_f1": float((f1 * support).sum() / support.sum()),
        "macro_f1": float(f1[present].mean()),
        "ece": expected_calibration_error(probs, labels),
        "per_class": class_figures(m, names),
        "confusion": {"labels": list(names), "matrix": m.tolist()},
    }


def selection_score(report: dict) -> float:
    """One number for model selection: the mean of MELD emotion and sentiment weighted F1 and the
    emotion accuracy of every other dev set (held-out actors, speakers, faces, joined senses)."""
    parts = []
    for corpus, heads in report.items():
        if corpus != "meld":
            parts.append(heads["emotion"]["accuracy"])
            continue
        parts += [heads[h]["weighted_f1"] for h in ("emotion", "sentiment") if h in heads]
    return float(np.mean(parts)) if parts else 0.0


def save_confusion_png(report: dict, path, title: str) -> None:
    """A confusion-matrix heat map (rows true, columns predicted, counts written in the cells)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(report["confusion"]["matrix"])
    names = report["confusion"]["labels"]
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * len(names), 1.0 + 0.7 * len(names)))
    ax.imshow(m / np.maximum(m.sum(axis=1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
