"""``latent-explorer train all``: retrain every shipped model within a time budget and pack
them into one archive (training/train_all.py)."""
from __future__ import annotations

from pathlib import Path

from .cli import CHECKPOINTS


def add_train_all(tsub) -> None:
    from latent_explorer.training.train_all import MODELS

    a = tsub.add_parser("all", help="train every shipped model within --minutes, evaluate, map, card and pack them")
    a.add_argument("--minutes", type=float, required=True, help="wall-clock budget of the training, all models together")
    a.add_argument("--out", required=True, help="folder for the runs (OUT/models) and OUT/shipped-models.tar")
    a.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    a.add_argument("--data", help="folder with the four MNIST .gz files")
    a.add_argument("--limit", type=int, default=0, help="use only the first N training images (tests)")
    a.add_argument("--batch-size", type=int, default=128)
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--classifier", default=str(CHECKPOINTS / "classifier.pt"))
    a.add_argument("--atlas-resolution", type=int, help="one atlas resolution for every model (default: each "
                                                         "model's shipped one: 256 in 2-D, 64/32 in 3-D, 24 in 4-D)")
    a.add_argument("--eval-samples", type=int, default=10000, help="generated images per evaluation")
    a.add_argument("--models", help="comma-separated subset of " + ",".join(MODELS))
    a.add_argument("--compile", action="store_true", help="CUDA: torch.compile the networks")
    a.add_argument("--force", action="store_true", help="replace the runs and archive of an earlier train all in --out")


def cmd_train_all(args) -> int:
    from latent_explorer.training.train_all import MODELS, TrainAll, train_all

    models = tuple(m.strip() for m in args.models.split(",") if m.strip()) if args.models else tuple(MODELS)
    plan = TrainAll(minutes=args.minutes, out=Path(args.out), data=args.data, device=args.device, limit=args.limit,
                    batch_size=args.batch_size, seed=args.seed, classifier=Path(args.classifier),
                    atlas_resolution=args.atlas_resolution, eval_samples=args.eval_samples, models=models,
                    compile=args.compile, force=args.force)
    archive = train_all(plan, log=lambda line: print(line, flush=True))
    print(f"saved {archive}; install it with: latent-explorer install-models {archive}")
    return 0
