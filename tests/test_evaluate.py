"""``latent-explorer evaluate``: one generator and one classifier pass over the samples, the
real test set's statistics cached, progress with an estimate on stderr, a table (JSON with
--json), and --write that names what it wrote, never replaces recorded figures without
--force, and never writes into the installed package."""
from __future__ import annotations

import contextlib
import io
import json
import shutil
import sysconfig
from pathlib import Path

import numpy as np
import pytest
import torch

from latent_explorer.app.cli import main
from latent_explorer.models.checkpoint import load_checkpoint
from latent_explorer.training import evaluate as ev
from tests.conftest import CLASSIFIER, make_generator

SAMPLES = 100


@pytest.fixture(scope="module")
def gen_path(tmp_path_factory) -> Path:
    return make_generator(tmp_path_factory.mktemp("evaluate") / "g.pt", 2, seed=5)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mnist_dir):
    """``train gan`` for one tiny epoch with its final evaluation, as a user runs it: (run
    folder, stdout, stderr)."""
    out = tmp_path_factory.mktemp("trained") / "run"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["train", "gan", "--epochs", "1", "--limit", "128", "--batch-size", "64", "--eval-samples",
                     str(SAMPLES), "--out", str(out), "--data", str(mnist_dir), "--seed", "2"])
    assert code == 0, stderr.getvalue()
    return out, stdout.getvalue(), stderr.getvalue()


def test_train_gan_shows_the_final_evaluation_with_an_estimate_and_no_nan(trained):
    out, stdout, stderr = trained
    assert "gan2d epoch 1/1:" in stdout and "map change -" in stdout and "nan" not in stdout.lower()
    assert "final evaluation" in stdout  # said before the evaluation starts
    assert "gan2d final evaluation: training the strong judge" in stderr and "left" in stderr
    assert f"wrote {out / 'gan2d.md'}" in stdout


def test_a_resumed_run_without_evaluation_says_which_epoch_the_figures_describe(trained, tmp_path, mnist_dir, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained[0], run)
    assert main(["train", "gan", "--epochs", "2", "--limit", "128", "--batch-size", "64", "--out", str(run),
                 "--data", str(mnist_dir), "--seed", "2", "--resume", "--no-eval"]) == 0
    assert f"wrote {run / 'gan2d.md'}" in capsys.readouterr().out
    ck = load_checkpoint(run / "gan2d.pt")
    assert ck.meta["epochs"] == 2 and ck.meta["evaluation"]["epoch"] == 1
    card = (run / "gan2d.md").read_text()
    assert "measured at epoch 1; the model is now at epoch 2" in card and "--write --force" in card


def _count_images(module: torch.nn.Module) -> list[int]:
    """Images each forward pass of ``module`` sees, recorded by a forward hook."""
    seen: list[int] = []
    module.register_forward_hook(lambda _m, inputs, _out: seen.append(len(inputs[0])))
    return seen


def test_one_generator_and_one_classifier_pass_over_the_samples(mnist_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path / "cache"))
    gen = make_generator(tmp_path / "g.pt", 2, seed=1)
    g = load_checkpoint(gen, expect="gan")
    clf = load_checkpoint(CLASSIFIER, expect="classifier")
    first = ev.evaluate_generator(g.model, g.config, clf.model, mnist_dir, samples=SAMPLES,
                                  classifier_digest=clf.digest)  # the reference: computed or from memory
    made, judged = _count_images(g.model), _count_images(clf.model.body[0])  # its first layer
    stages = []
    again = ev.evaluate_generator(g.model, g.config, clf.model, mnist_dir, samples=SAMPLES,
                                  classifier_digest=clf.digest, progress=lambda *a: stages.append(a))
    assert again == first  # the cached statistics give the same figures
    # the perceptual path length is a measurement of its own (pairs of nearby points): counted apart
    from latent_explorer.models.geometry import PPL_SAMPLES, perceptual_path_length

    before_made, before_judged = sum(made), sum(judged)
    perceptual_path_length(g.model, clf.model, 2, False, samples=min(PPL_SAMPLES, SAMPLES))
    ppl_made, ppl_judged = sum(made) - before_made, sum(judged) - before_judged
    # the judge's training and test images come from the same pass as the figures' samples
    assert before_made - ppl_made == max(SAMPLES, SAMPLES + min(ev.JUDGE_TEST, SAMPLES))
    assert before_judged - ppl_judged == SAMPLES  # one classifier pass: labels, "not a digit", Frechet features
    assert stages[-1][0] == "done" and stages[-1][1] == stages[-1][2]
    assert all(b[1] >= a[1] for a, b in zip(stages, stages[1:]))  # progress only goes forward


def test_the_real_test_statistics_are_cached_and_a_damaged_cache_is_recomputed(mnist_dir, tmp_path, classifier):
    from latent_explorer.training.data import load_split, to_gan_range

    test = load_split("test", mnist_dir)
    images, real = test.images[:300], to_gan_range(test.images[:300])
    fresh = ev.reference(classifier.model, classifier.digest, images, real, cache=tmp_path, memo=False)
    path = ev.reference_path(fresh.key, tmp_path)
    assert path.is_file()
    cached = ev.reference(classifier.model, classifier.digest, images, real, cache=tmp_path, memo=False)
    assert np.array_equal(cached.mu, fresh.mu) and np.array_equal(cached.cov, fresh.cov)
    assert cached.real_confident_share == fresh.real_confident_share
    path.write_bytes(b"not an npz file")
    again = ev.reference(classifier.model, classifier.digest, images, real, cache=tmp_path, memo=False)
    assert np.allclose(again.mu, fresh.mu) and path.read_bytes() != b"not an npz file"
    other = ev.reference(classifier.model, classifier.digest, test.images[300:600], to_gan_range(test.images[300:600]),
                         cache=tmp_path, memo=False)
    assert other.key != fresh.key  # other data: another entry, never the first one's figures


def test_frechet_from_cached_statistics_equals_the_direct_one():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(400, 8)), rng.normal(0.3, 1.2, size=(300, 8))
    assert ev.frechet_from_stats(*ev.gaussian(a), *ev.gaussian(b)) == pytest.approx(ev.frechet_distance(a, b))


def test_evaluate_prints_a_table_progress_on_stderr_and_json_only_when_asked(gen_path, mnist_dir, capsys):
    assert main(["evaluate", str(gen_path), "--samples", str(SAMPLES), "--data", str(mnist_dir)]) == 0
    out, err = capsys.readouterr()
    assert "confident digits" in out and "Frechet distance" in out and "strong judge" in out
    assert "{" not in out and f"{SAMPLES} samples" in out
    assert "left" in err and "evaluate g.pt" in err  # progress with an estimate of the time left, on stderr
    assert main(["evaluate", str(gen_path), "--samples", str(SAMPLES), "--data", str(mnist_dir), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["samples"] == SAMPLES and 0 <= figures["confident_share"] <= 1

    def floats(v):
        if isinstance(v, float):
            yield v
        elif isinstance(v, (list, dict)):
            for w in (v.values() if isinstance(v, dict) else v):
                yield from floats(w)
    assert all(len(repr(f).split(".")[-1]) <= 6 for f in floats(figures))  # 0.12, not 0.11999999731779099


def test_json_is_strict_json_and_a_missing_value_is_null():
    from latent_explorer.app.cli_models import rounded

    text = json.dumps(rounded({"map_change_last3": [float("nan"), 0.11999999731779099]}), allow_nan=False)
    assert json.loads(text) == {"map_change_last3": [None, 0.12]}


def test_write_names_what_it_wrote_and_never_replaces_figures_without_force(trained, mnist_dir, tmp_path, capsys):
    ckpt = tmp_path / "mine.pt"
    shutil.copy(trained[0] / "gan2d.pt", ckpt)
    argv = ["evaluate", str(ckpt), "--samples", "200", "--data", str(mnist_dir), "--write"]
    before = ckpt.read_bytes()
    assert main(argv) == 1  # it holds the training's figures; stdin is no terminal here: refused, nothing asked
    err = capsys.readouterr().err
    assert "--force" in err and str(ckpt) in err and "holds evaluation figures of epoch 1" in err
    assert ckpt.read_bytes() == before and not ckpt.with_suffix(".md").exists()
    assert main(argv + ["--force"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {ckpt} (evaluation figures" in out and f"wrote {ckpt.with_suffix('.md')}" in out
    assert load_checkpoint(ckpt).meta["evaluation"]["samples"] == 200
    card = ckpt.with_suffix(".md").read_bytes()
    assert main(argv) == 1 and "its card" in capsys.readouterr().err  # the card now exists too
    assert ckpt.with_suffix(".md").read_bytes() == card


def test_write_refuses_the_installed_package_folder(capsys):
    inside = Path(sysconfig.get_paths()["purelib"]) / "latent_explorer" / "checkpoints" / "gan2d.pt"
    existed = inside.exists()
    before = inside.read_bytes() if existed else None
    assert main(["evaluate", str(inside), "--write", "--samples", str(SAMPLES)]) == 1
    err = capsys.readouterr().err
    assert "installed package" in err and "copy" in err
    assert (inside.read_bytes() if existed else None) == before and inside.exists() == existed


def test_the_table_reads_every_figure():
    figures = {"samples": 10000, "epoch": 7, "not_digit_share": 0.1176, "confident_share": 0.5241,
               "digit_share": [0.09] * 10, "digits_present": 10, "blank_share": 0.0, "frechet_distance": 11.365,
               "strong_judge_error": 0.0005, "real_confident_share": 0.9418, "conditional_agreement": 0.988,
               "within_label_spread": [0.8] * 10, "map_change_last3": [0.41, 0.34, float("nan")]}
    text = ev.figures_table(figures, "cgan2d.pt")
    assert text.splitlines()[0] == "cgan2d.pt: model at epoch 7, 10,000 samples"
    for want in ("52.4%", "11.8%", "10/10", "11.37", "0.05%", "98.8%", "94.2%", "41.0%, 34.0%", "0: 9.0", "0: 80"):
        assert want in text, want
