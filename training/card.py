"""Model cards: a Markdown file beside each checkpoint with its command, data, time,
hardware and every measured figure (read from the checkpoint, never typed by hand)."""
from __future__ import annotations

from pathlib import Path

from models.checkpoint import load_checkpoint

REFERENCE_JUDGE = {"gan2d": 0.015, "gan3d": 0.032, "cgan3d": 0.00084, "gan4d": 0.0829}


def _pct(v: float) -> str:
    return f"{100 * v:.2f}%"


def atlas_summary(path: Path) -> dict | None:
    """Figures of the atlas beside a checkpoint (``<stem>.atlas.h5``), if there is one."""
    from models.atlas import load_atlas

    atlas_path = path.with_name(path.stem + ".atlas.h5")
    if not atlas_path.exists():
        return None
    a = load_atlas(atlas_path)
    out = {"resolution": a.resolution, "cells": int(a.labels.size), "seconds": a.seconds, "method": a.method,
           "evaluations": a.evaluations, "digit_area": a.digit_area(), "file": atlas_path.name,
           "generator_digest": a.generator_digest}
    if a.conditional:
        out["own_digit_share"] = [float((a.labels[k] == k).mean()) for k in range(10)]
    return out


def card_text(path: Path, command: str | None = None, atlas: dict | None = None) -> str:
    ck = load_checkpoint(path)
    if atlas is None and ck.kind != "classifier":
        atlas = atlas_summary(path)
    m, ev = ck.meta, ck.meta.get("evaluation", {})
    name = path.stem
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
        lines += ["## Evaluation (`latent-explorer evaluate`)", "", "| figure | value | target |", "|---|---|---|",
                  f"| share of samples labelled with confidence >= 0.9 | {_pct(ev['confident_share'])} | >= 90% "
                  f"(real test images: {_pct(ev['real_confident_share'])}) |",
                  f"| strong judge held-out error (higher is better, 50% = indistinguishable) | "
                  f"{_pct(ev['strong_judge_error'])} | "
                  + (f">= {_pct(2 * ref)} (twice the reference's {_pct(ref)}) |" if ref else "- |"),
                  f"| Frechet distance on classifier features (lower is better) | {ev['frechet_distance']:.2f} | - |"]
        if "conditional_agreement" in ev:
            lines.append(f"| conditional agreement (classifier sees the requested digit) | "
                         f"{_pct(ev['conditional_agreement'])} | >= 97% |")
        lines += ["", "Share of samples per digit (classifier's label, "
                  f"{ev['samples']:,} samples):", "",
                  "| " + " | ".join(str(i) for i in range(10)) + " |", "|" + "---|" * 10,
                  "| " + " | ".join(f"{100 * s:.1f}" for s in ev["digit_share"]) + " |", ""]
    if atlas:
        if atlas.get("generator_digest") and atlas["generator_digest"] != ck.digest:
            raise ValueError(f"{atlas.get('file')}: belongs to another generator than {path}")
        lines += ["## Atlas", "", f"`{atlas.get('file', '')}`: resolution {atlas['resolution']} per axis, "
                  f"{atlas['cells']:,} cells, {atlas.get('method', 'full')} builder, {atlas.get('evaluations', 0):,} "
                  f"generator evaluations, {atlas['seconds']:.0f} s. Share of the atlas per digit (%):", "",
                  "| " + " | ".join(str(i) for i in range(10)) + " |", "|" + "---|" * 10,
                  "| " + " | ".join(f"{100 * s:.1f}" for s in atlas["digit_area"]) + " |", ""]
        if ck.config.get("latent_dim") == 2 and not ck.config.get("conditional"):
            area = atlas["digit_area"]
            ok = all(a >= 0.03 for a in area)
            lines += [f"Target: all ten digits on the 2D atlas, each >= 3% of its area: "
                      f"{'met' if ok else 'not met'} ({sum(a > 0 for a in area)} digits present, smallest "
                      f"{100 * min(area):.1f}%).", ""]
        if "own_digit_share" in atlas:
            lines += ["Share of each digit's cube that the classifier assigns to that digit (%):", "",
                      "| " + " | ".join(str(i) for i in range(10)) + " |", "|" + "---|" * 10,
                      "| " + " | ".join(f"{100 * s:.1f}" for s in atlas["own_digit_share"]) + " |", ""]
    return "\n".join(lines) + "\n"


def write_card(path: Path, command: str | None = None, atlas: dict | None = None) -> Path:
    path = Path(path)
    target = path.with_suffix(".md")
    target.write_text(card_text(path, command, atlas))
    return target
