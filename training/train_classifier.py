"""Train the independent digit classifier and evaluate it on the MNIST test set."""
from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from latent_explorer.models.checkpoint import save_checkpoint
from latent_explorer.models.classifier import ClassifierConfig, DigitClassifier

from .data import data_checksum, load_split, resolve_data_dir, to_gan_range
from .device import pick_device
from .train_gan import hardware_string
from .progress import Progress


@dataclass
class ClassifierRun:
    epochs: int = 6
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 0
    device: str = "auto"


def random_shift(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Shift each image by up to ``max_shift`` pixels (background -1 fills the edge)."""
    n = x.shape[0]
    pad = F.pad(x, (max_shift,) * 4, value=-1.0)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(28)[None, :])  # n x 28
    cols = (dx[:, None] + torch.arange(28)[None, :])
    idx_n = torch.arange(n)[:, None, None]
    return pad[idx_n, 0, rows[:, :, None], cols[:, None, :]].unsqueeze(1)


@torch.inference_mode()
def predict(model: torch.nn.Module, images: torch.Tensor, batch: int = 2048) -> torch.Tensor:
    """Softmax probabilities for images in [-1, 1] (N, 1, 28, 28)."""
    model.eval()
    out = [F.softmax(model(images[i:i + batch]).float(), dim=1) for i in range(0, len(images), batch)]
    return torch.cat(out) if out else torch.empty(0, 10)


def accuracy(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    return float((predict(model, images).argmax(1) == labels).float().mean())


def train_classifier(run: ClassifierRun, data: str | None, out: Path, log=print) -> dict:
    """Train, evaluate on the test set, save ``out``; returns the card's figures."""
    torch.manual_seed(run.seed)
    device = pick_device(run.device)
    folder = resolve_data_dir(data)
    train, test = load_split("train", folder), load_split("test", folder)
    x, y = to_gan_range(train.images), torch.from_numpy(train.labels).long()
    xt, yt = to_gan_range(test.images), torch.from_numpy(test.labels).long()
    model = DigitClassifier(ClassifierConfig()).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=run.lr, weight_decay=1e-4)
    steps_per_epoch = (len(x) + run.batch_size - 1) // run.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=run.lr, total_steps=run.epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(run.seed)
    start = time.perf_counter()
    for epoch in range(run.epochs):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        bar = Progress(len(x), f"classifier epoch {epoch + 1}/{run.epochs}", unit="img")
        total_loss = 0.0
        for i in range(steps_per_epoch):
            idx = perm[i * run.batch_size:(i + 1) * run.batch_size]
            xb = random_shift(x[idx], 2, gen).to(device)
            loss = F.cross_entropy(model(xb), y[idx].to(device), label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += float(loss.detach())
            bar.update(len(idx))
        bar.close()
        acc = accuracy(model.to("cpu"), xt, yt)
        model.to(device)
        log(f"epoch {epoch + 1}/{run.epochs}: loss {total_loss / steps_per_epoch:.4f}  test accuracy {acc:.4%}")
    seconds = time.perf_counter() - start
    model = model.to("cpu").eval()
    test_acc = accuracy(model, xt, yt)
    train_acc = accuracy(model, x[:10000], y[:10000])
    meta = {
        "test_accuracy": test_acc,
        "train_accuracy_first10k": train_acc,
        "epochs": run.epochs,
        "batch_size": run.batch_size,
        "lr": run.lr,
        "seed": run.seed,
        "seconds": round(seconds, 1),
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "hardware": hardware_string(device),
        "torch": str(torch.__version__),
        "data_checksum": data_checksum(folder),
    }
    save_checkpoint(out, "classifier", ClassifierConfig().to_dict(), model, meta)
    return meta
