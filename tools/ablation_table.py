"""Evaluate the runs of a recipe ablation and print the table of docs/training.md.

    python tools/ablation_table.py RUN_DIR [RUN_DIR ...] [--samples 10000] [--json out.json]

Each RUN_DIR holds one `latent-explorer train gan ... --no-eval` run (checkpoint and history);
every row is evaluated by the same `evaluate_checkpoint` as `latent-explorer evaluate`, so the
figures are the ones the model cards give.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from latent_explorer.models.checkpoint import load_checkpoint
from latent_explorer.training.evaluate import evaluate_checkpoint

ROOT = Path(__file__).resolve().parent.parent


def row(path: Path, samples: int, data: str | None) -> dict:
    ck = load_checkpoint(path, expect=("gan", "cgan"))
    ev = evaluate_checkpoint(path, ROOT / "checkpoints" / "classifier.pt", data=data, samples=samples)
    return {"name": path.stem, "seconds": ck.meta.get("seconds"), "epochs": ck.meta.get("epochs"),
            "images": ck.meta.get("training_images"), **ev}


def markdown(rows: list[dict]) -> str:
    head = ("| run | confident >= 0.9 | not a digit | digits present | smallest digit share | Frechet | "
            "label agreement | within-label spread (min-max) | blank | map change, last epochs | seconds |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        shares = r["digit_share"]
        spread = r.get("within_label_spread")
        change = r.get("map_change_last3") or []
        lines.append(
            f"| {r['name']} | {r['confident_share']:.1%} | {r.get('not_digit_share', float('nan')):.1%} | "
            f"{r['digits_present']}/10 | {min(shares):.1%} | {r['frechet_distance']:.0f} | "
            + (f"{r['conditional_agreement']:.1%} | " if 'conditional_agreement' in r else "- | ")
            + (f"{min(spread):.0%}-{max(spread):.0%} | " if spread else "- | ")
            + f"{r['blank_share']:.1%} | " + ", ".join(f"{c:.0%}" for c in change if c == c) + " | "
            + f"{r['seconds']:.0f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--samples", type=int, default=10000)
    p.add_argument("--data")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    rows = []
    for run in args.runs:
        for ck in sorted(run.glob("*.pt")):
            if ck.name.endswith(".state.pt"):
                continue
            rows.append(row(ck, args.samples, args.data))
            print(f"evaluated {ck}", file=sys.stderr)
    print(markdown(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
