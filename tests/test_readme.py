"""Every command line in the README's "Command line" block, as written there.

Each line is parsed by the real parser (a documented form that argparse refuses fails
here); the quick ones that need no network, no training and no long computation are run
through the real ``main`` in a fresh temporary folder, so their relative output names
(out.png, strip.png, ...) are used verbatim and land there.  Substitutions, only where a
line shows a placeholder rather than a value:

- ``CHECKPOINT``, ``FILE`` -> a copy of the shipped ``gan2d.pt`` (with its history and atlas)
  in the temporary folder, so ``card`` and ``report`` write nothing into checkpoints/;
- ``DIR`` -> the MNIST folder the tests use (download then only verifies, no network);
- ``ATLAS ...``, ``N``, ``M`` -> dropped / 64 / 7;
- ``...`` -> the arguments of the line above it for the same command;
- ``[...]`` -> its contents (optional parts are exercised, not skipped).

The block must also name every subcommand the parser has.
"""
from __future__ import annotations

import argparse
import re
import shlex
import shutil
from pathlib import Path

import pytest

from latent_explorer.app.cli import _join_point_values, build_parser, main

ROOT = Path(__file__).resolve().parent.parent
# commands run for real (quick, offline); the rest are parsed only, with the reason
RUN = ("render", "info", "export strip", "export layers-video", "compare", "verify-data", "download", "card",
       "report")
PARSED_ONLY = {"": "opens the window", "gui": "opens the window", "train": "trains for minutes",
               "evaluate": "generates 10,000 images", "atlas": "labels 65,536+ cells", "bench": "minutes",
               "calibrate": "measures the classifier on MNIST", "install-models": "needs a trained archive",
               "project": "searches the latent box", "neighbours": "builds the feature index (minutes)",
               "units": "switches off every unit of a layer at 256 points (a minute)",
               "geometry": "generates 16,384 images"}


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Command line\n+```[a-z]*\n(.*?)```", text, re.S).group(1)
    lines = []
    for line in block.splitlines():
        if not line.strip() or line.startswith(" "):
            continue  # a description continued from the line above
        command = re.split(r"\s{2,}", line.strip())[0]  # drop the description column
        lines.append(command)
    return lines


def to_argv(command: str, previous: dict[str, list[str]], mnist: Path, model: Path) -> list[str]:
    words = shlex.split(command.replace("[", " ").replace("]", " "))
    if words[0] == "torchrun":
        words = words[words.index("latent_explorer.app") + 1:]
    else:
        assert words[0] == "latent-explorer", command
        words = words[1:]
    if "ATLAS" in words:  # "[ATLAS ...]": optional files; none means all shipped
        words = [w for w in words if w not in ("ATLAS", "...")]
    if "..." in words:
        i = words.index("...")
        key = " ".join(words[:i])
        words = previous[key] + words[i + 1:]
    out = []
    for w in words:
        out.append({"CHECKPOINT": str(model), "FILE": str(model), "DIR": str(mnist), "N": "64", "M": "7"}.get(w, w))
    return out


def _key(argv: list[str]) -> str:
    return " ".join(w for w in argv[:2] if not w.startswith("-") and "/" not in w and "." not in w)


def test_the_readme_names_every_command():
    listed = set()
    for c in readme_commands():
        words = shlex.split(c.replace("[", " "))
        listed.add(words[1] if len(words) > 1 and words[0] == "latent-explorer" else "")
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    missing = sorted(set(sub.choices) - listed)
    assert not missing, f"the README's command list leaves out: {', '.join(missing)}"


def test_every_readme_command_line(tmp_path, monkeypatch, capsys, mnist_dir):
    model = tmp_path / "models" / "gan2d.pt"
    model.parent.mkdir()
    for name in ("gan2d.pt", "gan2d.history.h5", "gan2d.atlas.h5"):
        shutil.copy(ROOT / "checkpoints" / name, model.parent / name)
    monkeypatch.setenv("LATENT_EXPLORER_DATA", str(mnist_dir))  # a bare `download` only verifies
    parser = build_parser()
    previous: dict[str, list[str]] = {}
    ran = []
    for n, command in enumerate(readme_commands()):
        argv = to_argv(command, previous, mnist_dir, model)
        try:
            parser.parse_args(_join_point_values(argv))  # what main() parses
        except SystemExit:
            pytest.fail(f"the README's `{command}` is refused by the parser ({capsys.readouterr().err.strip()})")
        previous.setdefault(" ".join(argv[:1]), argv)
        previous.setdefault(" ".join(argv[:2]), argv)
        joined = " ".join(argv)
        if not any(joined == r or joined.startswith(r + " ") for r in RUN):
            assert (argv[0] if argv else "") in PARSED_ONLY, f"`{command}`: neither run nor known to be slow"
            continue
        work = tmp_path / f"run{n}"
        work.mkdir()
        monkeypatch.chdir(work)
        (model.parent / "gan2d.md").unlink(missing_ok=True)  # `card` writes it; each line starts clean
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 0, f"`{command}` (run as {argv}) failed: {err}"
        written = sorted(p.name for p in work.rglob("*") if p.is_file())
        for name in re.findall(r"(?:-o|--out)\s+(\S+)", command):
            if name.endswith("/"):
                assert any(p.startswith("gan2d.report.") for p in written), (command, written)
            else:
                assert name in written, f"`{command}` did not write {name}: {written}"
        if "--gif --csv --json" in command:
            assert {"strip.png", "strip.gif", "strip.csv", "strip.json"} <= set(written)
        ran.append(argv[0])
    assert {"render", "info", "export", "compare", "verify-data", "download", "card", "report"} <= set(ran)


def test_ci_runs_the_readmes_test_command_in_a_fresh_venv():
    """CI does what the README tells a newcomer: a fresh virtual environment, then the
    README's test command exactly as written."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    test_line = next(b.strip() for b in blocks if "pytest" in b)
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_line in ci.splitlines(), f"CI does not run the README's test command {test_line!r}"
    assert "python3 -m venv" in ci and ". \"$venv/bin/activate\"" in ci


def test_the_training_notes_speak_in_reader_terms():
    """docs/training.md names no internal work items (issue numbers, numbered work sessions or
    periods) that mean nothing to a reader."""
    text = (ROOT / "docs" / "training.md").read_text()
    found = re.findall(r"(?i)\bissue\s*#?\d+|#\d+\b|\bsession[\s-]*\d+|\b(?:work )?period\s*\d+|issue's|this session",
                       text)
    assert not found, found
