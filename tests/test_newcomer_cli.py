"""The command line as a newcomer meets it: help with defaults and examples, the usage of the
subcommand that was mistyped, every file the project writes known to `info`, a pipe that
closes early, missing data and folders named with what to do, and shipped models that are
never written by a command's defaults."""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from latent_explorer.app.cli import build_parser, main
from latent_explorer.app.cli_help import EXAMPLES, walk

ROOT = Path(__file__).resolve().parent.parent


def _env(**extra) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", QT_QPA_PLATFORM="offscreen")
    env.update(extra)
    return env


def test_every_option_has_help_and_every_subcommand_an_example():
    for path, parser in walk(build_parser()):
        name = " ".join(path)
        assert name in EXAMPLES and "examples:" in (parser.epilog or ""), f"{name or 'top level'}: no example"
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            assert action.help, f"{name}: {action.option_strings or action.dest} has no help line"


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["train", "gan", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--epochs EPOCHS passes over the training images (default: 20) (range 1..100,000)" in out
    assert "--batch-size BATCH_SIZE" in out and "(default: 128)" in out
    assert "examples: latent-explorer train gan" in out


@pytest.mark.parametrize("argv,usage", [(["render", "--point", "0,0", "-o", "x.png", "--bogus"], "usage: latent-explorer render"),
                                        (["train", "gan", "--epoks", "3", "--out", "x"], "usage: latent-explorer train gan"),
                                        (["atlas", "build", "gan2d", "--res", "4", "--nope"], "usage: latent-explorer atlas build")])
def test_a_wrong_option_shows_the_subcommands_usage(capsys, argv, usage):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and usage in err and "unrecognized arguments" in err, err


def test_info_knows_every_file_the_project_writes(capsys, tiny_run):
    for file, kind in [(ROOT / "checkpoints" / "classifier.ood.npz", "digit-check calibration"),
                       (tiny_run / "gan2d.state.pt", "training state"),
                       (tiny_run / "gan2d.history.h5", "training history"),
                       (ROOT / "checkpoints" / "gan2d.atlas.h5", "atlas"),
                       (ROOT / "checkpoints" / "classifier.pt", "classifier")]:
        assert main(["info", str(file)]) == 0, file
        out = capsys.readouterr().out
        assert kind in out, (file, out[:300])
    assert main(["info", str(tiny_run / "gan2d.state.pt")]) == 0
    assert [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("epoch")] == [["epoch", "2"]]


def test_info_into_a_pipe_that_closes_early_ends_quietly():
    r = subprocess.run(f"{sys.executable} -m latent_explorer.app info gan2d | head -1", shell=True,
                       capture_output=True, text=True, env=_env(), timeout=120, cwd=ROOT)
    assert r.stdout.startswith("file") and r.stderr == "", r.stderr


def test_verify_data_on_missing_files_points_to_download(tmp_path, capsys):
    assert main(["verify-data", "--data", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "4 of the 4 MNIST files missing" in err and f"latent-explorer download --data {tmp_path}" in err


def test_install_models_into_a_missing_folder_says_so(tmp_path, capsys):
    archive = tmp_path / "a.tar"
    archive.write_bytes(b"")
    assert main(["install-models", str(archive), "--into", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err
    assert "nope: no such folder" in err and "user's models folder" in err
    assert not (tmp_path / "nope").exists()


def test_interrupt_says_how_to_resume(tmp_path, mnist_dir):
    """A real Ctrl-C (SIGINT) into a training run: the message names --resume and the folder."""
    import signal
    import time

    out = tmp_path / "run"
    p = subprocess.Popen([sys.executable, "-m", "latent_explorer.app", "train", "gan", "--epochs", "50", "--limit",
                          "512", "--batch-size", "64", "--map-resolution", "8", "--out", str(out), "--data", str(mnist_dir),
                          "--no-eval"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # xdist workers ignore it
    deadline = time.time() + 600
    while time.time() < deadline and not (out / "gan2d.history.h5").exists():
        time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=600)
    assert p.returncode == 130, err[-2000:]
    assert "--resume" in err and str(out) in err


def test_model_names_everywhere_and_shipped_files_never_written_by_default(tmp_path, capsys, monkeypatch):
    """`info`, `card`, `report` and `atlas build` take a model name; run from another folder,
    their default outputs land there, never beside the shipped checkpoint."""
    monkeypatch.chdir(tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in (ROOT / "checkpoints").iterdir() if p.name != "__pycache__"}
    assert main(["info", "gan2d"]) == 0 and "gan2d.pt" in capsys.readouterr().out
    assert main(["card", "gan2d"]) == 0 and (tmp_path / "gan2d.md").is_file()
    assert main(["report", "cgan2d"]) == 0 and (tmp_path / "cgan2d.report.png").is_file()
    assert main(["atlas", "build", "gan2d", "--resolution", "8"]) == 0 and (tmp_path / "gan2d.atlas.h5").is_file()
    after = {p.name: p.stat().st_mtime_ns for p in (ROOT / "checkpoints").iterdir() if p.name != "__pycache__"}
    assert after == before, "a command wrote into the shipped checkpoints folder"


def test_an_unknown_model_name_lists_the_known_ones(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", "gan9d"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "no model named 'gan9d'" in err and "gan2d" in err


def test_installed_models_are_found_by_name_before_the_shipped_ones(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LATENT_EXPLORER_MODELS", str(tmp_path))
    shutil.copy2(ROOT / "checkpoints" / "gan3d.pt", tmp_path / "mine.pt")
    assert main(["info", "mine"]) == 0 and str(tmp_path / "mine.pt") in capsys.readouterr().out
