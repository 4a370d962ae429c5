"""Calibrate the classifier's "not a digit" check (see :mod:`models.digitness`) and measure it.

``calibrate(classifier_path, data)`` fits class means and one shared covariance per layer on
55,000 MNIST training digits, standardises the log distances on the other 5,000 and sets the
threshold that accepts 99.5% of those.  It then measures, on data the fit never saw: the
share of the 10,000 MNIST test digits accepted, and the share of held-out made negatives
flagged (:mod:`training.negatives`, seed ``HELD_OUT_SEED``, blends made from test digits),
per kind.  The same figures are computed for the options that were not chosen (Mahalanobis
on the penultimate layer alone, on block 4 alone, the energy score), so the choice can be
re-checked; the option was picked on the calibration negatives (seed ``CALIBRATION_SEED``,
made from training digits), never on the held-out ones.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from latent_explorer.models.checkpoint import load_checkpoint
from latent_explorer.models.digitness import LAYERS, Calibration, calibration_path, features

from . import negatives
from .data import load_split, resolve_data_dir, to_gan_range

ACCEPT_QUANTILE = 0.995
HELD_APART = 5000
NEGATIVES_PER_KIND = 1000


def _features(model, x: torch.Tensor, batch: int = 1000) -> tuple[dict[str, np.ndarray], np.ndarray]:
    feats: dict[str, list] = {k: [] for k in LAYERS}
    logits = []
    for i in range(0, len(x), batch):
        f, lg = features(model, x[i:i + batch])
        for k in LAYERS:
            feats[k].append(f[k].double().numpy())
        logits.append(lg.double().numpy())
    return {k: np.concatenate(v) for k, v in feats.items()}, np.concatenate(logits)


def _fit_layer(f: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    means = np.stack([f[y == c].mean(0) for c in range(10)])
    r = f - means[y]
    cov = r.T @ r / len(r)
    cov += np.eye(len(cov)) * 1e-6 * np.trace(cov) / len(cov)
    return means, np.linalg.inv(cov)


def _energy(logits: np.ndarray) -> np.ndarray:
    m = logits.max(1)
    return -(m + np.log(np.exp(logits - m[:, None]).sum(1)))


def calibrate(classifier_path: str | Path, data: str | Path | None, out: Path | None = None,
              log=print) -> tuple[Calibration, dict]:
    """Fit, measure and (with ``out``) save; returns the calibration and its figures."""
    t0 = time.perf_counter()
    ck = load_checkpoint(classifier_path, expect="classifier", digit_check=False)
    model = ck.model.eval()
    folder = resolve_data_dir(data)
    train, test = load_split("train", folder), load_split("test", folder)
    log("features of the MNIST training and test sets ...")
    tr_f, tr_l = _features(model, to_gan_range(train.images))
    te_f, te_l = _features(model, to_gan_range(test.images))
    perm = np.random.default_rng(0).permutation(len(train))
    fit, val = perm[:-HELD_APART], perm[-HELD_APART:]
    y = train.labels.astype(np.int64)
    means, prec = {}, {}
    for k in LAYERS:
        means[k], prec[k] = _fit_layer(tr_f[k][fit], y[fit])
    zero = Calibration(ck.digest, means, prec, {k: (0.0, 1.0) for k in LAYERS}, 0.0, {})
    val_log = {k: zero.log_distance(k, torch.from_numpy(tr_f[k][val])).numpy() for k in LAYERS}
    zstats = {k: (float(v.mean()), float(v.std())) for k, v in val_log.items()}
    cal = Calibration(ck.digest, means, prec, zstats, 0.0, {})

    log("made negatives (calibration and held-out sets) ...")
    sets = {"calibration": negatives.make_set(negatives.CALIBRATION_KINDS, NEGATIVES_PER_KIND, negatives.CALIBRATION_SEED,
                                              train.images, train.labels),
            "held_out": negatives.make_set(negatives.KINDS, NEGATIVES_PER_KIND, negatives.HELD_OUT_SEED,
                                           test.images, test.labels)}
    neg_feats = {name: {kind: _features(model, torch.from_numpy(x).unsqueeze(1)) for kind, x in s.items()}
                 for name, s in sets.items()}

    def zscore(layer: str, f: np.ndarray) -> np.ndarray:
        return (cal.log_distance(layer, torch.from_numpy(f)).numpy() - zstats[layer][0]) / zstats[layer][1]

    options = {
        "mahalanobis_penultimate": lambda f, lg: zscore("penultimate", f["penultimate"]),
        "mahalanobis_block4": lambda f, lg: zscore("block4", f["block4"]),
        "energy": lambda f, lg: _energy(lg),
        "mahalanobis_penultimate_and_block4": lambda f, lg: np.maximum(zscore("penultimate", f["penultimate"]),
                                                                       zscore("block4", f["block4"])),
    }
    figures: dict = {"accept_quantile": ACCEPT_QUANTILE, "negatives_per_kind": NEGATIVES_PER_KIND,
                     "held_out_seed": negatives.HELD_OUT_SEED, "calibration_seed": negatives.CALIBRATION_SEED,
                     "options": {}}
    val_f = {k: tr_f[k][val] for k in LAYERS}
    for name, score in options.items():
        thr = float(np.quantile(score(val_f, tr_l[val]), ACCEPT_QUANTILE))
        row = {"threshold": thr, "test_accepted": float((score(te_f, te_l) <= thr).mean())}
        for set_name, kinds in neg_feats.items():
            flagged = {kind: float((score(f, lg) > thr).mean()) for kind, (f, lg) in kinds.items()}
            flagged["all"] = float(np.mean(list(flagged.values())))
            row[f"{set_name}_flagged"] = flagged
        figures["options"][name] = row
    figures["chosen"] = "mahalanobis_penultimate_and_block4"
    chosen = figures["options"][figures["chosen"]]
    cal.threshold = chosen["threshold"]
    cal.info = {"command": "latent-explorer calibrate", "figures": figures, "seconds": time.perf_counter() - t0,
                "torch": str(torch.__version__)}
    log(format_figures(figures))
    if out is not None:
        cal.save(out)
        log(f"wrote {out}")
    return cal, figures


def format_figures(figures: dict) -> str:
    lines = []
    for name, row in figures["options"].items():
        held = row["held_out_flagged"]
        lines.append(f"{name:36s} test digits accepted {row['test_accepted']:.2%}; held-out negatives flagged "
                     + ", ".join(f"{k} {v:.1%}" for k, v in held.items()))
    return "\n".join(lines)


def default_out(classifier_path: str | Path) -> Path:
    return calibration_path(classifier_path)
