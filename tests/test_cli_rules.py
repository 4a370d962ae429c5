"""The command line's shared rules, on the real commands and the shipped models: one
overwrite rule for every command that writes, the export flags as documented, ``report``
into an existing folder, ``info`` as an aligned table, one naming of the coordinates."""
from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest

from latent_explorer.app.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "checkpoints"
# commands that write a file but keep no --force, and why
NO_FORCE = {
    "bench": "regenerates BENCHMARKS.md and its results file on purpose (--only merges into them)",
    "download": "writes only verified MNIST files into the data folder, skipping those already there",
    "evaluate": "writes only with --write, which is the request to update the checkpoint and its card",
}


def _subparsers(parser, prefix=()):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield prefix + (name,), sub
                yield from _subparsers(sub, prefix + (name,))


def test_every_command_that_writes_has_force():
    writers = []
    for name, sub in _subparsers(build_parser()):
        options = {o for a in sub._actions for o in a.option_strings}
        if options & {"-o", "--out", "--gif", "--csv", "--json", "--write"} and name[0] not in NO_FORCE:
            writers.append(" ".join(name))
            assert "--force" in options, f"`latent-explorer {' '.join(name)}` writes files but has no --force"
    assert {"render", "export strip", "compare", "atlas build", "report", "train classifier", "train gan"} <= \
        set(writers)


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _refused(capsys, path: Path, *argv) -> None:
    before = path.read_bytes()
    code, _, err = _run(capsys, *argv)
    assert code == 1, err
    assert f"{path}: already exists" in err and "--force" in err, err
    assert path.read_bytes() == before


def test_render_refuses_to_overwrite_and_force_replaces(tmp_path, capsys):
    out = tmp_path / "p.png"
    out.write_bytes(b"mine")
    argv = ["render", "--model", "gan2d", "--point", "0.1,0.2", "-o", out]
    _refused(capsys, out, *argv)
    code, stdout, err = _run(capsys, *argv, "--force")
    assert code == 0, err
    assert out.read_bytes()[:4] == b"\x89PNG" and f"wrote {out}" in stdout


def test_compare_card_atlas_and_training_refuse_to_overwrite(tmp_path, capsys, classifier_path):
    fig = tmp_path / "c.png"
    fig.write_bytes(b"mine")
    _refused(capsys, fig, "compare", "gan2d", "gan2d-relu", "-o", fig)
    model = tmp_path / "gan2d.pt"
    shutil.copy(SHIPPED / "gan2d.pt", model)
    card = tmp_path / "gan2d.md"
    card.write_text("my notes")
    _refused(capsys, card, "card", model)
    code, _, err = _run(capsys, "card", model, "--force")
    assert code == 0, err
    assert card.read_text().startswith("#")
    atlas = tmp_path / "a.atlas.h5"
    atlas.write_bytes(b"mine")
    _refused(capsys, atlas, "atlas", "build", model, "--resolution", "4", "-o", atlas)
    clf = tmp_path / "clf.pt"
    clf.write_bytes(b"mine")
    _refused(capsys, clf, "train", "classifier", "-o", clf, "--epochs", "1")
    run = tmp_path / "run"
    run.mkdir()
    (run / "gan2d.pt").write_bytes(b"an earlier run")
    code, _, err = _run(capsys, "train", "gan", "--latent-dim", "2", "--epochs", "1", "--out", run)
    assert code == 1 and f"{run / 'gan2d.pt'}: already exists" in err and "--resume" in err and "--force" in err


def test_export_strip_flags_bare_and_with_paths(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, "export", "strip", "--model", "gan2d", "--a", "-1,0", "--b", "1,0", "--steps", "4",
                          "-o", "walk.png", "--gif", "--csv", "--json")
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.csv", "walk.gif", "walk.json", "walk.png"]
    rows = list(csv.DictReader(open("walk.csv")))
    assert list(rows[0])[:3] == ["t", "x", "y"]  # the window's names, not z1, z2
    assert [float(r["x"]) for r in rows] == pytest.approx([-1, -1 / 3, 1 / 3, 1], abs=1e-6)
    assert json.loads(Path("walk.json").read_text())["points"][0]["x"] == pytest.approx(-1)
    (tmp_path / "sub").mkdir()
    code, _, err = _run(capsys, "export", "strip", "--model", "gan2d", "--a", "-1,0", "--b", "1,0", "--steps", "4",
                        "--gif", "sub/w.gif", "--csv", "sub/w.csv")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["w.csv", "w.gif"]
    code, _, err = _run(capsys, "export", "strip", "--model", "gan2d", "--a", "-1,0", "--b", "1,0", "--json")
    assert code == 1 and "--json without a file name" in err and "-o" in err
    _refused(capsys, tmp_path / "walk.gif", "export", "strip", "--model", "gan2d", "--a", "-1,0", "--b", "1,0",
             "-o", "other.png", "--gif", tmp_path / "walk.gif")
    assert not (tmp_path / "other.png").exists()  # refused before anything was written


def test_export_strip_digit_is_for_conditional_models_only(tmp_path, capsys):
    """--digit on an unconditional model is refused, naming the option and the model, before
    anything is written; a conditional model still needs it for a point walk and not for a
    label walk, as before."""
    walk = ["--a", "-1,0", "--b", "1,0", "--steps", "3"]
    code, out, err = _run(capsys, "export", "strip", "--model", SHIPPED / "gan2d.pt", *walk, "--digit", "3",
                          "--json", tmp_path / "g.json")
    assert code == 1 and out == ""
    assert err == (f"latent-explorer: error: --digit 3: {SHIPPED / 'gan2d.pt'} is an unconditional model; "
                   "unconditional models take no digit (leave --digit out)\n")
    assert list(tmp_path.iterdir()) == []
    code, _, err = _run(capsys, "export", "strip", "--model", "gan2d", *walk, "--json", tmp_path / "g.json")
    assert code == 0, err  # without --digit it walks
    code, _, err = _run(capsys, "export", "strip", "--model", "cgan2d", *walk, "--json", tmp_path / "c.json")
    assert code == 1 and "a conditional model needs --digit for a point walk" in err
    assert not (tmp_path / "c.json").exists()
    code, _, err = _run(capsys, "export", "strip", "--model", "cgan2d", *walk, "--digit", "3",
                        "--json", tmp_path / "c.json")
    assert code == 0, err
    assert json.loads((tmp_path / "c.json").read_text())["digit"] == 3
    code, _, err = _run(capsys, "export", "strip", "--model", "cgan2d", "--a", "0,0", "--label-walk", "1,7",
                        "--steps", "3", "--json", tmp_path / "label.json")
    assert code == 0, err
    assert json.loads((tmp_path / "label.json").read_text())["label_walk"] == [1, 7]
    for extra, message in ((["--digit", "3"], "--digit 3 does not apply to --label-walk 1,7"),
                           (["--b", "1,1"], "--b 1,1 does not apply to --label-walk 1,7")):
        code, out, err = _run(capsys, "export", "strip", "--model", "cgan2d", "--a", "0,0", "--label-walk", "1,7",
                              *extra, "--steps", "3", "--json", tmp_path / "ignored.json")
        assert code == 1 and out == "" and message in err  # refused, not ignored
        assert not (tmp_path / "ignored.json").exists()


def test_report_into_an_existing_folder(tmp_path, capsys):
    folder = tmp_path / "reports"
    folder.mkdir()
    code, out, err = _run(capsys, "report", SHIPPED / "gan2d.pt", "-o", folder)
    assert code == 0, err
    assert sorted(p.name for p in folder.iterdir()) == ["gan2d.report.json", "gan2d.report.pdf", "gan2d.report.png"]
    assert not list(tmp_path.glob("reports.*"))
    _refused(capsys, folder / "gan2d.report.png", "report", SHIPPED / "gan2d.pt", "-o", folder)


@pytest.mark.parametrize("name", ["gan2d.pt", "gan4d.atlas.h5", "cgan2d.history.h5"])
def test_info_is_an_aligned_table_with_rounded_numbers(capsys, name):
    code, out, err = _run(capsys, "info", SHIPPED / name)
    assert code == 0, err
    lines = out.rstrip("\n").split("\n")
    starts = {re.match(r"^(\s*\S+(?: \S+)*)\s{2,}", line).end() for line in lines if re.search(r"\S\s{2,}\S", line)}
    assert len(starts) == 1, f"values do not start in one column:\n{out}"
    assert not re.search(r"\d\.\d{6,}", out), f"unrounded number:\n{out}"
    assert "{" not in out and "[(" not in out, f"raw Python structure:\n{out}"


def test_empty_checkpoint_says_it_is_empty(tmp_path, capsys):
    empty = tmp_path / "empty.pt"
    empty.touch()
    code, _, err = _run(capsys, "info", empty)
    assert code == 1 and f"{empty}: the file is empty" in err
