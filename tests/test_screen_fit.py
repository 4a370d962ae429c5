"""The real window on screens of 1366 x 768, 1600 x 1000 and 1920 x 1080, with the docks
opened by their shortcuts in every combination (all of them on the smallest screen):
the window stays inside the screen's available area, no widget sticks out of its parent,
the image, readout and sliders stay visible, an opened dock is in front, the left
column gives up its room before the maps do, the maps area never scrolls sideways (gan4d
at 1366 x 768 included) with every map at least ``MIN_MAP_PX`` a side, and the digits'
areas chart shows its percentage labels whole (gan2d with the Find dock at 1366 x 768 and
1600 x 1000).

Each size runs tests/screen_fit.py in its own process, whose offscreen screen is made that
size with Qt's offscreen configuration file (``QT_QPA_PLATFORM=offscreen:configfile=...``):
one QApplication has one screen size for its lifetime, so a size per process is the only
way to test the real window on a real (virtual) screen of each size."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.screen_fit import screen_config

ROOT = Path(__file__).resolve().parent.parent
CASES = [  # size, models, every combination of docks (else: none, each alone, all)
    ("1366x768", ["cgan3d"], True),
    ("1366x768", ["gan4d", "gan2d"], False),
    ("1600x1000", ["gan3d", "gan2d"], False),
    ("1920x1080", ["gan4d"], False),
]


@pytest.mark.slow
@pytest.mark.parametrize("size,models,every", CASES, ids=[f"{c[0]}-{'+'.join(c[1])}" for c in CASES])
def test_window_fits_the_screen_with_any_docks(tmp_path, size, models, every):
    width, height = (int(v) for v in size.split("x"))
    env = dict(os.environ, QT_QPA_PLATFORM=screen_config(width, height, tmp_path), OMP_NUM_THREADS="1",
               LATENT_EXPLORER_SETTINGS=str(tmp_path / "settings.ini"), LATENT_EXPLORER_CACHE=str(tmp_path / "cache"))
    cmd = [sys.executable, str(ROOT / "tests" / "screen_fit.py"), size, *models] + ([] if every else ["--some"])
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert rows, r.stderr[-3000:]
    bad = [f"{row['model']} with {row['docks'] or 'no docks'}: {p}" for row in rows for p in row["problems"]]
    assert not bad, "\n".join(bad[:40])
    assert r.returncode == 0, r.stderr[-3000:]
    assert len(rows) == len(models) * (32 if every else 7) or len(rows) == len(models) * (16 if every else 6)
    for row in rows:
        assert row["window"][0] <= width and row["window"][1] <= height
