"""The settle-epoch rule on constructed histories, and the report files from a real history."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from latent_explorer.training.history import History
from latent_explorer.training.report import report_data, settle_epoch, smooth, write_report
from latent_explorer.training.train_gan import GanRun, train_gan

NAN = float("nan")


@pytest.mark.parametrize("rates,expected", [
    ([NAN, 0.3, 0.1, 0.01, 0.01, 0.01, 0.2], 4),
    ([NAN, 0.01, 0.01, 0.5, 0.01, 0.01, 0.01], 5),
    ([NAN, 0.01, 0.01], None),
    ([NAN, 0.02, 0.02, 0.02, 0.02], None),  # the threshold itself does not count
    ([], None),
    ([NAN, NAN, NAN, NAN], None),
])
def test_settle_rule(rates, expected):
    assert settle_epoch(rates, 0.02, 3) == expected


def test_settle_rule_parameters():
    rates = [NAN, 0.04, 0.03, 0.03, 0.01]
    assert settle_epoch(rates, 0.05, 2) == 2
    assert settle_epoch(rates, 0.035, 3) == 3
    assert settle_epoch(rates, 0.02, 1) == 5


def test_smoothing():
    assert np.allclose(smooth([1, 3, 5, 7], 2), [1, 2, 4, 6])
    assert np.allclose(smooth([1, 2], 1), [1, 2])


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, mnist_dir, classifier_path):
    out = tmp_path_factory.mktemp("report")
    run = GanRun(latent_dim=3, epochs=2, batch_size=64, limit=192, map_precision="float32", seed=1, eval_samples=300)
    return train_gan(run, data=str(mnist_dir), out=out, classifier_path=classifier_path, evaluate_at_end=True,
                     quiet=True, log=lambda *_: None)


def test_report_files_hold_the_figures(tiny_run, tmp_path):
    paths = write_report(tiny_run["checkpoint"], tmp_path / "rep")
    data = json.loads(paths["json"].read_text())
    hist = History.load(tiny_run["history"])
    assert data["epochs"] == 2 and data["steps"] == 6
    assert data["per_epoch"]["map_change_rate"][0] is None
    assert data["per_epoch"]["map_change_rate"][1] == pytest.approx(hist.change_rate[1])
    assert data["per_epoch"]["weak_judge_accuracy"] == pytest.approx(hist.weak_judge_acc)
    assert data["evaluation"]["strong_judge_error"] >= 0
    assert Image.open(paths["png"]).size[0] > 1000
    assert paths["pdf"].read_bytes().startswith(b"%PDF")
    assert data == json.loads(json.dumps(report_data(hist, data["evaluation"])))


def test_report_cli_refuses_to_overwrite(tiny_run, tmp_path):
    cmd = [sys.executable, "-m", "app", "report", str(tiny_run["checkpoint"]), "-o", str(tmp_path / "r")]
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 1 and "already exists" in r.stderr


def test_report_maps_have_a_legend_of_the_digit_colours(tiny_run):
    from latent_explorer.models.maps import PALETTE
    from latent_explorer.training.report import report_figure

    hist = History.load(tiny_run["history"])
    fig = report_figure(hist, report_data(hist, {}))
    legends = fig.legends
    assert len(legends) == 1
    labels = [t.get_text() for t in legends[0].get_texts()]
    assert labels == [str(k) for k in range(10)] + ["no digit"]
    colours = [tuple(round(255 * c) for c in h.get_facecolor()[:3]) for h in legends[0].legend_handles]
    assert colours == [tuple(int(v) for v in PALETTE[k]) for k in range(11)]
