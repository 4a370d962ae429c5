"""A tiny real training run end to end: checkpoint, history and atlas agree; resume is exact."""
from pathlib import Path

import numpy as np
import pytest
import torch

from latent_explorer.models.atlas import build_atlas, load_atlas
from latent_explorer.models.checkpoint import load_checkpoint
from latent_explorer.models.sampling import grid_axis
from latent_explorer.training.history import History
from latent_explorer.training.train_gan import GanRun, train_gan

TINY = dict(batch_size=64, limit=256, map_precision="float32", eval_samples=400)


def _run(tmp: Path, mnist_dir, classifier_path, epochs, resume=False, **kw):
    run = GanRun(latent_dim=kw.pop("latent_dim", 2), conditional=kw.pop("conditional", False), epochs=epochs,
                 seed=3, **TINY)
    return train_gan(run, data=str(mnist_dir), out=tmp, resume=resume, classifier_path=classifier_path,
                     evaluate_at_end=kw.pop("evaluate", False), quiet=True, log=lambda *_: None,
                     should_stop=kw.pop("should_stop", None))


@pytest.mark.slow
def test_tiny_run_products_load_back_and_agree(tmp_path, mnist_dir, classifier_path):
    result = _run(tmp_path, mnist_dir, classifier_path, epochs=2, evaluate=True)
    ck = load_checkpoint(result["checkpoint"], expect="gan")
    clf = load_checkpoint(classifier_path)
    assert ck.meta["epochs"] == 2 and ck.meta["training_images"] == 256
    ev = ck.meta["evaluation"]
    assert 0 <= ev["strong_judge_error"] <= 0.5
    assert abs(sum(ev["digit_share"]) + ev["not_digit_share"] - 1) < 1e-6  # digits and "not a digit" share all
    assert ev["frechet_distance"] > 0
    assert ev["perceptual_path_length"] > 0 and ev["ppl_epsilon"] == 1e-4
    card = (tmp_path / "gan2d.md").read_text()
    assert "perceptual path length" in card
    assert card.count("strong judge") == 2  # the evaluation row and the gap it leaves
    # a 2-epoch run misses the targets: the card says which, and what would close the gap
    assert "## Gaps to the targets" in card and "Not met: " in card
    assert "`--epochs 1000`" in card and "changing at the last epoch" in card
    hist = History.load(result["history"])
    assert hist.epochs == 2
    assert hist.generator_digest == ck.digest and hist.classifier_digest == clf.digest
    g, d, e = hist.steps()
    assert len(g) == len(d) == 8 and e.tolist() == [1] * 4 + [2] * 4
    assert np.isfinite(g).all() and np.isfinite(d).all()
    assert hist.grids[-1].shape == (64, 28, 28) and hist.maps[-1].shape == (1, 64, 64)
    assert np.isnan(hist.change_rate[0]) and 0 <= hist.change_rate[1] <= 1
    assert 0.4 <= hist.weak_judge_acc[-1] <= 1
    # the atlas at the history's resolution reproduces the last per-epoch map exactly
    atlas_path = tmp_path / "gan2d.atlas.h5"
    build_atlas(ck, clf, 64, atlas_path, method="full")
    atlas = load_atlas(atlas_path, ck.digest, clf.digest)
    assert np.array_equal(atlas.labels, hist.maps[-1][0])
    assert np.allclose(atlas.confidence.astype(np.float32), hist.map_conf[-1][0].astype(np.float32), atol=2e-3)
    # and the history's grid is the generator's output on the fixed noise
    assert hist.grids[-1].dtype == np.uint8


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path, mnist_dir, classifier_path):
    straight = _run(tmp_path / "a", mnist_dir, classifier_path, epochs=2)
    calls = []  # interrupted after its first epoch (the learning-rate schedule is that of a 2-epoch run)
    _run(tmp_path / "b", mnist_dir, classifier_path, epochs=2, should_stop=lambda: calls.append(1) or len(calls) > 1)
    assert History.load(tmp_path / "b" / "gan2d.history.h5").epochs == 1
    resumed = _run(tmp_path / "b", mnist_dir, classifier_path, epochs=2, resume=True)
    sa = load_checkpoint(straight["checkpoint"]).model.state_dict()
    sb = load_checkpoint(resumed["checkpoint"]).model.state_dict()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key
    ha, hb = History.load(straight["history"]), History.load(resumed["history"])
    assert hb.epochs == 2
    assert np.array_equal(ha.steps()[0], hb.steps()[0])
    assert np.array_equal(ha.maps[-1], hb.maps[-1])


def test_resume_refuses_another_model(tmp_path, mnist_dir, classifier_path):
    from latent_explorer.models.checkpoint import CheckpointError

    _run(tmp_path, mnist_dir, classifier_path, epochs=1)
    (tmp_path / "gan2d.state.pt").rename(tmp_path / "gan3d.state.pt")
    (tmp_path / "gan2d.history.h5").rename(tmp_path / "gan3d.history.h5")
    with pytest.raises(CheckpointError, match="different model"):
        _run(tmp_path, mnist_dir, classifier_path, epochs=2, resume=True, latent_dim=3)


def test_conditional_tiny_run(tmp_path, mnist_dir, classifier_path):
    result = _run(tmp_path, mnist_dir, classifier_path, epochs=1, latent_dim=3, conditional=True)
    ck = load_checkpoint(result["checkpoint"], expect="cgan")
    hist = History.load(result["history"])
    assert [p[2] for p in hist.planes] == list(range(10))
    assert hist.maps[0].shape == (10, 32, 32)
    assert ck.config["conditional"] is True and ck.config["conditioning"] == "hidden"
    assert ck.meta["recipe"] == "explore" and ck.meta["d_conditioning"] == "projection"
    # the trained generator's output depends on both the label and the noise
    g = ck.model.eval()
    z = torch.rand(8, 3, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        by_z = g(z, torch.full((8,), 4))
        by_label = g(z[:1].expand(10, -1), torch.arange(10))
    assert float((by_z - by_z[:1]).abs().mean()) > 1e-3
    assert float((by_label - by_label[:1]).abs().mean()) > 1e-3


def test_reference_recipe_keeps_the_study_loop(tmp_path, mnist_dir, classifier_path):
    run = GanRun(latent_dim=2, conditional=True, epochs=1, seed=3, recipe="reference", **TINY)
    assert (run.ema, run.lr_decay, run.minibatch_std, run.unroll) == (0.0, 0.0, False, 0)
    result = train_gan(run, data=str(mnist_dir), out=tmp_path, classifier_path=classifier_path,
                       evaluate_at_end=False, quiet=True, log=lambda *_: None)
    ck = load_checkpoint(result["checkpoint"], expect="cgan")
    assert ck.config["conditioning"] == "shift" and ck.meta["d_conditioning"] == "mask"
    with pytest.raises(ValueError, match="recipe"):
        GanRun(recipe="fancy")


def test_grid_axis_covers_the_box():
    ax = grid_axis(64)
    assert ax[0] == -1 and ax[-1] == 1 and len(ax) == 64


def test_r1_penalty_pulls_the_discriminator_towards_a_flat_response_on_real_images():
    from latent_explorer.models.networks import Discriminator, GanConfig
    from latent_explorer.training.recipe import r1_penalty

    torch.manual_seed(0)
    d = Discriminator(GanConfig(2)).eval()  # no dropout: the same function before and after
    real = torch.rand(32, 1, 28, 28) * 2 - 1
    opt = torch.optim.SGD(d.parameters(), lr=1e-4)
    before = float(r1_penalty(d, real, None, 10.0))
    for _ in range(5):
        opt.zero_grad()
        r1_penalty(d, real, None, 10.0).backward()
        opt.step()
    assert 0 < float(r1_penalty(d, real, None, 10.0)) < before
    assert GanRun(latent_dim=2, epochs=1, r1=5.0).r1 == 5.0
    with pytest.raises(ValueError, match="r1"):
        GanRun(latent_dim=2, epochs=1, r1=-1.0)


def test_class_entropy_rewards_clear_digits_spread_evenly_and_is_for_unconditional_models():
    import math

    from latent_explorer.models.networks import Discriminator, GanConfig
    from latent_explorer.training.recipe import class_entropy_loss

    clear_even = torch.eye(10).repeat(4, 1) * 30  # 40 images, each one clear digit, every digit 4 times
    clear_one = torch.zeros(40, 10)
    clear_one[:, 3] = 30  # 40 clear 3s
    unsure = torch.zeros(40, 10)  # 40 images, no digit preferred
    assert float(class_entropy_loss(clear_even)) == pytest.approx(-math.log(10), abs=1e-3)
    assert float(class_entropy_loss(clear_one)) == pytest.approx(0.0, abs=1e-3)
    assert float(class_entropy_loss(unsure)) == pytest.approx(0.0, abs=1e-3)
    logit, classes = Discriminator(GanConfig(2), class_head=True)(torch.zeros(5, 1, 28, 28), with_classes=True)
    assert logit.shape == (5,) and classes.shape == (5, 10)
    with pytest.raises(ValueError, match="class head"):
        Discriminator(GanConfig(2))(torch.zeros(5, 1, 28, 28), with_classes=True)
    assert GanRun(latent_dim=2, epochs=1, class_entropy=1.0).class_entropy == 1.0
    with pytest.raises(ValueError, match="unconditional"):
        GanRun(latent_dim=2, conditional=True, epochs=1, class_entropy=1.0)
