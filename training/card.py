"""Model cards: a Markdown file beside each checkpoint with its command, data, time,
hardware and every measured figure (read from the checkpoint, never typed by hand)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from latent_explorer.models.checkpoint import load_checkpoint
from latent_explorer.models.printable import printable

REFERENCE_JUDGE = {"gan2d": 0.015, "gan3d": 0.032, "cgan3d": 0.00084, "gan4d": 0.0829}


def _pct(v: float) -> str:
    return f"{100 * v:.2f}%"


def atlas_summary(path: Path) -> dict | None:
    """Figures of the atlas beside a checkpoint (``<stem>.atlas.h5``), if there is one."""
    from latent_explorer.models.atlas import AtlasOutdated, load_atlas

    atlas_path = path.with_name(path.stem + ".atlas.h5")
    if not atlas_path.exists():
        return None
    try:
        a = load_atlas(atlas_path)
    except AtlasOutdated:  # made before the "not a digit" check: the card goes without it until it is rebuilt
        return None
    out = {"resolution": a.resolution, "cells": int(a.labels.size), "seconds": a.seconds, "method": a.method,
           "evaluations": a.evaluations, "digit_area": a.digit_area(), "file": atlas_path.name,
           "generator_digest": a.generator_digest, "no_digit_share": a.no_digit_share()}
    if a.conditional:
        out["own_digit_share"] = [float((a.labels[k] == k).mean()) for k in range(10)]
    if a.overlays is not None:
        ov = a.overlays
        out["overlays"] = {"resolution": ov.resolution, "seconds": ov.seconds,
                           "sensitivity_median": float(np.nanmedian(ov.maps["sensitivity"])),
                           "sensitivity_max": float(np.nanmax(ov.maps["sensitivity"]))}
    return out


def _shown(meta: dict) -> dict:
    """The metadata's strings made printable and capped (they come from the file)."""
    return {k: printable(v, 300) if isinstance(v, str) else v for k, v in meta.items()}


def card_text(path: Path, command: str | None = None, atlas: dict | None = None) -> str:
    ck = load_checkpoint(path)
    if atlas is None and ck.kind != "classifier":
        atlas = atlas_summary(path)
    m, ev = _shown(ck.meta), ck.meta.get("evaluation", {})
    name = printable(path.stem, 80)
    lines = [f"# Model card: {name}", ""]
    if ck.kind == "classifier":
        lines += [
            "The independent digit classifier that labels every generated image (the judge behind the class maps).",
            "", "| field | value |", "|---|---|",
            f"| test accuracy (MNIST test set, 10,000 images) | {_pct(m['test_accuracy'])} |",
            f"| command | `{command or m.get('command', '')}` |",
            f"| epochs / batch / lr / seed | {m['epochs']} / {m['batch_size']} / {m['lr']} / {m['seed']} |",
            f"| training time | {m['seconds']:.0f} s |",
            f"| hardware | {m['hardware']} ({m['device']}) |",
            f"| data | MNIST training set, checksum {m['data_checksum']} |",
            f"| torch | {m['torch']} |",
            f"| weights digest | {ck.digest[:16]} |",
        ]
        if m.get("note"):
            lines += ["", f"Note: {m['note']}."]
        lines += digit_check_lines(path, ck)
        return "\n".join(lines) + "\n"
    lines += [f"A {'conditional ' if ck.kind == 'cgan' else ''}GAN generator with a {ck.config['latent_dim']}-dimensional "
              f"latent space (prior uniform on [-1, 1]^d), activation {ck.config['activation']}.", "",
              "## Training", "", "| field | value |", "|---|---|",
              f"| command | `{command or m.get('command', '')}` |",
              f"| epochs | {m['epochs']} (of {m.get('epochs_planned', m['epochs'])} planned), batch {m['batch_size']}, "
              f"Adam lr {m['lr']} beta1 {m['beta1']}, seed {m['seed']} |",
              f"| training time | {m['seconds']:.0f} s ({m['seconds'] / 3600:.2f} h) |",
              f"| hardware | {m['hardware']} |",
              f"| data | MNIST training set ({m['training_images']:,} images), checksum {m['data_checksum']} |",
              f"| torch | {m['torch']} |", f"| weights digest | {ck.digest[:16]} |", ""]
    if m.get("note"):
        lines += [f"Note: {m['note']}.", ""]
    if ev:
        ref = REFERENCE_JUDGE.get(name)
        lines += ["## Evaluation (`latent-explorer evaluate`)", ""]
        if isinstance(ev.get("epoch"), int) and ev["epoch"] != m.get("epochs"):
            lines += [f"**These figures were measured at epoch {ev['epoch']}; the model is now at epoch "
                      f"{m.get('epochs')}** (trained further without an evaluation). Measure it again with "
                      f"`latent-explorer evaluate {path.name} --write --force`.", ""]
        lines += ["| figure | value | target |", "|---|---|---|",
                  *([f"| share of samples that are not a digit (the classifier's check) | "
                     f"{_pct(ev['not_digit_share'])} | - |"] if "not_digit_share" in ev else []),
                  f"| share of samples that are digits labelled with confidence >= 0.9 | {_pct(ev['confident_share'])} "
                  f"| >= {_pct(confident_target(ck.config))} (real test images: {_pct(ev['real_confident_share'])}) |",
                  *([f"| digits present among the samples | {ev['digits_present']}/10 | 10/10 |"]
                    if "digits_present" in ev else []),
                  *([f"| blank samples (fewer than 20 pixels above mid-grey) | {_pct(ev['blank_share'])} | < 1% |"]
                    if "blank_share" in ev else []),
                  *([f"| class map's change rate, last epochs | "
                     f"{', '.join(_pct(c) for c in ev['map_change_last3'] if c == c) or '-'} | < 5% each |"]
                    if ev.get("map_change_last3") else []),
                  f"| strong judge held-out error (higher is better, 50% = indistinguishable) | "
                  f"{_pct(ev['strong_judge_error'])} | "
                  + (f">= {_pct(2 * ref)} (twice the reference's {_pct(ref)}) |" if ref else "- |"),
                  f"| Frechet distance on classifier features (lower is better) | {ev['frechet_distance']:.2f} | - |",
                  *([f"| perceptual path length (Karras et al. 2019; squared distance of the classifier's unit-length "
                     f"features per epsilon^2, epsilon {ev.get('ppl_epsilon', 1e-4):g}, {ev.get('ppl_samples', 0):,} "
                     f"pairs; lower is smoother) | {ev['perceptual_path_length']:.1f} | - |"]
                    if "perceptual_path_length" in ev else [])]
        if "conditional_agreement" in ev:
            lines.append(f"| conditional agreement (classifier sees the requested digit) | "
                         f"{_pct(ev['conditional_agreement'])} | >= 97% |")
        if "within_label_spread" in ev:
            spread = ev["within_label_spread"]
            lines += ["", "Within-label spread: mean pairwise pixel distance of one label's images over that of real "
                      "MNIST test images of that digit (%; target >= 50% for each digit):", "",
                      "| " + " | ".join(str(i) for i in range(10)) + " |", "|" + "---|" * 10,
                      "| " + " | ".join(f"{100 * v:.0f}" for v in spread) + " |"]
        nd = "not_digit_share" in ev
        lines += ["", "Share of samples per digit (classifier's label, "
                  f"{ev['samples']:,} samples{'; images that are not a digit under no digit' if nd else ''}):", "",
                  "| " + " | ".join(str(i) for i in range(10)) + (" | no digit |" if nd else " |"),
                  "|" + "---|" * (11 if nd else 10),
                  "| " + " | ".join(f"{100 * s:.1f}" for s in ev["digit_share"])
                  + (f" | {100 * ev['not_digit_share']:.1f} |" if nd else " |"), ""]
    if atlas:
        if atlas.get("generator_digest") and atlas["generator_digest"] != ck.digest:
            raise ValueError(f"{atlas.get('file')}: belongs to another generator than {path}")
        lines += ["## Atlas", "", f"`{atlas.get('file', '')}`: resolution {atlas['resolution']} per axis, "
                  f"{atlas['cells']:,} cells, {atlas.get('method', 'full')} builder, {atlas.get('evaluations', 0):,} "
                  f"generator evaluations, {atlas['seconds']:.0f} s. Share of the atlas per digit (%):", "",
                  "| " + " | ".join(str(i) for i in range(10)) + " | no digit |", "|" + "---|" * 11,
                  "| " + " | ".join(f"{100 * s:.1f}" for s in atlas["digit_area"])
                  + f" | {100 * atlas.get('no_digit_share', 0.0):.1f} |", ""]
        if atlas.get("overlays"):
            ov = atlas["overlays"]
            lines += [f"Geometry overlays stored beside the classes (sensitivity in pixels and classifier features, "
                      f"ink, thickness, slant, width, height; `latent-explorer geometry`): {ov['resolution']} points "
                      f"per axis, {ov['seconds']:.0f} s of the build. Sensitivity: median {ov['sensitivity_median']:.2f}, "
                      f"largest {ov['sensitivity_max']:.2f} RMS pixel change (0-1) per unit step of z.", ""]
        if not ck.config.get("conditional"):
            area = atlas["digit_area"]
            ok = all(a >= 0.03 for a in area)
            lines += [f"Target: all ten digits on the atlas, each >= 3% of its area: "
                      f"{'met' if ok else 'not met'} ({sum(a > 0 for a in area)} digits present, smallest "
                      f"{100 * min(area):.1f}%).", ""]
        if "own_digit_share" in atlas:
            lines += ["Share of each digit's cube that the classifier assigns to that digit (%):", "",
                      "| " + " | ".join(str(i) for i in range(10)) + " |", "|" + "---|" * 10,
                      "| " + " | ".join(f"{100 * s:.1f}" for s in atlas["own_digit_share"]) + " |", ""]
    if ck.kind != "classifier" and ev:
        lines += gap_lines(path, ck, ev, atlas)
    return "\n".join(lines) + "\n"


def digit_check_lines(path: Path, ck) -> list[str]:
    """The classifier's "not a digit" check: how it works and its measured figures (from the
    calibration file beside the classifier, written by ``latent-explorer calibrate``)."""
    cal = getattr(ck.model, "digitness", None)
    if cal is None:
        return ["", "No 'not a digit' calibration beside this classifier: every image is taken for a digit "
                "(run `latent-explorer calibrate`)."]
    fig = cal.info.get("figures", {})
    names = {"mahalanobis_penultimate": "Mahalanobis, penultimate layer (128 features)",
             "mahalanobis_block4": "Mahalanobis, block 4 channel means and spreads (128)",
             "energy": "energy score (-logsumexp of the logits)",
             "mahalanobis_penultimate_and_block4": "Mahalanobis, penultimate and block 4 (the larger score)"}
    kinds = [k for k in next(iter(fig.get("options", {}).values()), {}).get("held_out_flagged", {}) if k != "all"]
    lines = ["", "## Not a digit", "",
             "Beside its label the classifier says whether an image is a digit at all (`models/digitness.py`): the "
             "Mahalanobis distance of its features to the nearest class mean (class means and one shared covariance "
             "from 55,000 MNIST training digits; Lee et al. 2018), on two layers, each standardised on 5,000 "
             "training digits held apart; the image is *not a digit* when the larger standardised score passes the "
             f"threshold that accepts {100 * fig.get('accept_quantile', 0.995):.1f}% of those. No second network; the "
             f"weights above are unchanged. Calibration: `{cal.path.name if cal.path else ''}`, made by "
             "`latent-explorer calibrate`, which prints every figure below.", "",
             f"Measured on data the calibration never saw: the 10,000 MNIST test digits, and "
             f"{fig.get('negatives_per_kind', 0):,} made negatives per kind (`training/negatives.py`, held-out seed "
             f"{fig.get('held_out_seed')}, blends of test digits). The option was chosen on other negatives (seed "
             f"{fig.get('calibration_seed')}, made from training digits).", "",
             "| option | test digits accepted | " + " | ".join(f"{k} flagged" for k in kinds) + " | all flagged |",
             "|---|---|" + "---|" * (len(kinds) + 1)]
    for key, row in fig.get("options", {}).items():
        chosen = " (chosen)" if key == fig.get("chosen") else ""
        held = row["held_out_flagged"]
        lines.append(f"| {names.get(key, key)}{chosen} | {_pct(row['test_accepted'])} | "
                     + " | ".join(_pct(held[k]) for k in kinds) + f" | {_pct(held['all'])} |")
    lines += ["", "Targets: >= 99% of test digits accepted, >= 95% of the negatives flagged. The penultimate layer "
              "alone misses most blends of two digits (it maps them close to one of them) and the energy score misses "
              "noise entirely; the check on both layers meets both targets. "
              "`python -m pytest tests/test_digitness.py` re-measures both figures on the shipped weights."]
    return lines


def confident_target(config: dict) -> float:
    """The confident-share target of the quality issue: 75% in 2-D, 85% in 3-D and 4-D."""
    return 0.75 if int(config.get("latent_dim", 2)) <= 2 else 0.85


def gap_lines(path: Path, ck, ev: dict, atlas: dict | None) -> list[str]:
    """What is short of the quality targets, and what more training would take."""
    m, name = _shown(ck.meta), path.stem
    short = []
    target = confident_target(ck.config)
    if ev["confident_share"] < target:
        short.append(f"confident samples {_pct(ev['confident_share'])} (target {_pct(target)})")
    if ev.get("digits_present", 10) < 10:
        short.append(f"{ev['digits_present']} of 10 digits among the samples")
    if ev.get("blank_share", 0.0) >= 0.01:
        short.append(f"blank samples {_pct(ev['blank_share'])} (target < 1%)")
    if any(v < 0.5 for v in ev.get("within_label_spread", [])):
        low = [k for k, v in enumerate(ev["within_label_spread"]) if v < 0.5]
        short.append(f"within-label spread below 50% for digit(s) {', '.join(map(str, low))}")
    rates = [c for c in ev.get("map_change_last3") or [] if c == c]
    if rates and max(rates) >= 0.05:
        short.append(f"class map still changing ({', '.join(_pct(c) for c in rates)} of cells in the last epochs; "
                     "target < 5% each)")
    ref = REFERENCE_JUDGE.get(name)
    if ref and ev["strong_judge_error"] < 2 * ref:
        short.append(f"strong judge error {_pct(ev['strong_judge_error'])} (target {_pct(2 * ref)})")
    if "conditional_agreement" in ev and ev["conditional_agreement"] < 0.97:
        short.append(f"conditional agreement {_pct(ev['conditional_agreement'])} (target 97%)")
    if atlas and not ck.config.get("conditional") and min(atlas["digit_area"]) < 0.03:
        short.append(f"smallest digit on the atlas {100 * min(atlas['digit_area']):.1f}% (target 3%)")
    if not short:
        return ["## Targets", "", "Every quality target is met.", ""]
    lines = ["## Gaps to the targets, and what would close them", "", "Not met: " + "; ".join(short) + ".", ""]
    change = None
    try:
        from latent_explorer.training.history import History
        from latent_explorer.training.report import settle_epoch

        history = History.load(path.with_name(path.stem + ".history.h5"))
        rates = [v for v in history.change_rate if v == v]
        change = rates[-1] if rates else None
        settled = settle_epoch(history.change_rate)
    except Exception:  # a card is still written without its history
        settled = None
    per_epoch = m["seconds"] / max(1, m["epochs"])
    if change is not None:
        lines.append(f"The class map was still changing at the last epoch ({100 * change:.0f}% of its cells changed "
                     f"class) and {'settled at epoch ' + str(settled) if settled else 'has not settled'} by the "
                     "2%-for-3-epochs rule: training had not converged.")
    lines += [f"This model had {m['epochs']} epochs ({per_epoch / 60:.1f} min each on {m['hardware']}); the reference "
              "study trained 1,000 to 5,000 epochs on a GPU. More epochs need no code change: the same command with "
              "`--epochs 1000` (and `--resume` in a run folder that still holds its training state) takes about "
              f"{1000 * per_epoch / 3600:.0f} h at this rate on this CPU; on a CUDA GPU (`--device cuda`: mixed "
              "precision, data kept on the device) at the 60,000 images/s the benchmark targets, about 17 minutes "
              "(GPU speed not measured here).", ""]
    return lines


def write_card(path: Path, command: str | None = None, atlas: dict | None = None, out: Path | None = None) -> Path:
    """Write the card of checkpoint ``path`` to ``out`` (default: beside it, ``X.md``)."""
    from latent_explorer.models.checkpoint import CheckpointError
    from latent_explorer.models.fileio import atomic_write_bytes
    from latent_explorer.models.printable import printable_lines

    path = Path(path)
    target = Path(out) if out else path.with_suffix(".md")
    try:
        text = card_text(path, command, atlas)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:  # figures in the metadata
        raise CheckpointError(f"{path}: its recorded figures are incomplete or damaged ({type(exc).__name__}: "
                              f"{str(exc)[:120]}); run 'latent-explorer evaluate {path} --write' to record them "
                              f"again") from None
    atomic_write_bytes(target, printable_lines(text).encode())  # atomic; a FIFO or device under the card's name is replaced
    return target
