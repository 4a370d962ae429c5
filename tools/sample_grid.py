"""sample_grid.py CHECKPOINT... --out PNG: a grid of uniform samples per generator, each
image captioned with the classifier's verdict (digit and confidence; "-" where the
"not a digit" check refuses it; grey when below 0.9), for docs/training.md.

Unconditional: 40 points drawn uniformly from [-1, 1]^d (seed 0).  Conditional: 4 points
per digit, one row per digit pair (columns: the digit asked for)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from latent_explorer.models.checkpoint import CheckpointError, load_checkpoint  # noqa: E402
from latent_explorer.models.digitness import NO_DIGIT, judge  # noqa: E402
from latent_explorer.models.sampling import generate  # noqa: E402

ROWS, COLS = 4, 10


def samples(path: Path, classifier) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    ckpt = load_checkpoint(path, expect=("gan", "cgan"))
    d = int(ckpt.config["latent_dim"])
    gen = torch.Generator().manual_seed(0)
    z = torch.rand(ROWS * COLS, d, generator=gen) * 2 - 1
    labels = None
    if ckpt.config.get("conditional"):
        labels = torch.arange(COLS).repeat(ROWS)
    images = generate(ckpt.model, z, labels)
    verdict = judge(classifier, images)  # the images above, not generated again
    digits = np.where(verdict.is_digit, verdict.label, NO_DIGIT)
    return images[:, 0].numpy(), digits, verdict.confidence, path.stem


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+", type=Path)
    ap.add_argument("--classifier", type=Path, default=Path("checkpoints/classifier.pt"))
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    try:
        clf = load_checkpoint(args.classifier, expect="classifier").model
        rows = [samples(p, clf) for p in args.checkpoints]
    except (CheckpointError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    fig = plt.figure(figsize=(COLS * 0.75, len(rows) * (ROWS * 0.86 + 0.3)), dpi=100)
    sub = fig.subfigures(len(rows), 1, squeeze=False)[:, 0]
    for sf, (images, digits, confs, name) in zip(sub, rows):
        sf.suptitle(name, fontsize=10, x=0.01, ha="left")
        axes = sf.subplots(ROWS, COLS)
        for ax, img, dig, conf in zip(axes.ravel(), images, digits, confs):
            ax.imshow(img, cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            sure = dig != NO_DIGIT and conf >= 0.9
            text = f"{dig} {conf:.0%}" if dig != NO_DIGIT else "-"
            ax.set_title(text, fontsize=7, pad=1.5, color="black" if sure else "#999999")
        sf.subplots_adjust(left=0.01, right=0.99, top=0.86, bottom=0.01, wspace=0.06, hspace=0.35)
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.out)
    except OSError as exc:
        print(f"error: {args.out}: cannot write ({exc.strerror or exc})", file=sys.stderr)
        return 1
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
