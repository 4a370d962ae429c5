"""Find a digit: MNIST-like image loading, projection into the latent box, the nearest
training images and their cache, the dock in the real window, and the command line."""
from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from latent_explorer.models.checkpoint import load_checkpoint
from latent_explorer.models.digitimage import DigitImageError, load_digit_image, mnist_like
from latent_explorer.models.engine import Engine
from latent_explorer.models.neighbours import cache_path, open_index
from latent_explorer.models.projection import MIN_SEPARATION, Projector, pixel_distance

pytest_plugins = ("gui_fixtures",)

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 1000  # training images in the tests' neighbour index


@pytest.fixture(scope="session")
def index_cache(tmp_path_factory, classifier, mnist_dir) -> Path:
    """A cache folder holding a small real index (the first LIMIT training images)."""
    folder = tmp_path_factory.mktemp("nbcache")
    open_index(classifier, mnist_dir, cache=folder, limit=LIMIT)
    return folder


# ---------------------------------------------------------------- images


def _seven(path: Path, size=(300, 400), ink="black", paper="white", mode="RGB") -> Path:
    im = Image.new(mode, size, paper)
    ImageDraw.Draw(im).line([(60, 80), (240, 80), (120, 360)], fill=ink, width=28)
    im.save(path)
    return path


def _mass_centre(img: np.ndarray) -> tuple[float, float]:
    ink = (img + 1) / 2
    ys, xs = np.indices(ink.shape)
    return float((ys * ink).sum() / ink.sum()), float((xs * ink).sum() / ink.sum())


@pytest.mark.parametrize("ink,paper", [("black", "white"), ("white", "black")])
def test_image_files_become_mnist_like(tmp_path, ink, paper):
    img = load_digit_image(_seven(tmp_path / "seven.png", ink=ink, paper=paper))
    assert img.shape == (28, 28) and img.dtype == np.float32
    assert img.min() >= -1 and img.max() <= 1
    assert img[0].max() == -1 and img[:, 0].max() == -1  # light background inverted: black margins
    rows = np.flatnonzero((img > -0.8).any(axis=1))
    cols = np.flatnonzero((img > -0.8).any(axis=0))
    assert rows[-1] - rows[0] + 1 <= 21 and cols[-1] - cols[0] + 1 <= 21  # fits the 20 x 20 box
    assert rows[-1] - rows[0] + 1 >= 19  # the taller side fills it
    cy, cx = _mass_centre(img)
    assert abs(cy - 13.5) < 1.0 and abs(cx - 13.5) < 1.0


def _seven_on_uneven_paper(folder: Path) -> tuple[Path, Path]:
    """A dark seven on grey paper shaded from dark (top left) to light, as a photo of a page
    gives it: the same picture as PNG and as JPEG (quality 85)."""
    h, w = 400, 300
    yy, xx = np.mgrid[0:h, 0:w]
    paper = 0.5 + 0.3 * xx / w + 0.15 * yy / h + np.random.default_rng(0).normal(0, 0.01, (h, w))
    im = Image.fromarray((np.clip(paper, 0, 1) * 255).astype(np.uint8), "L")
    ImageDraw.Draw(im).line([(60, 80), (240, 80), (120, 360)], fill=40, width=26)
    png, jpg = folder / "seven.png", folder / "seven.jpg"
    im.save(png)
    im.save(jpg, quality=85)
    return png, jpg


def test_uneven_paper_leaves_no_grey_box_and_png_and_jpeg_agree(tmp_path, classifier):
    png, jpg = _seven_on_uneven_paper(tmp_path)
    a, b = load_digit_image(png), load_digit_image(jpg)
    assert pixel_distance(a, b) < 0.02  # the same picture gives the same digit
    for img in (a, b):
        lit = img > -0.9  # 5% of full ink (the resampling's ringing stays below)
        rows, cols = np.flatnonzero(lit.any(axis=1)), np.flatnonzero(lit.any(axis=0))
        box = img[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        assert (box > -0.9).mean() < 0.45  # the strokes, not a box of paper around them
        h, w = box.shape
        assert box[h // 4: 3 * h // 4, : w // 4].max() < -0.9  # left of the seven's stem: clean paper
    engine = Engine(load_checkpoint(ROOT / "checkpoints" / "gan2d.pt"), classifier)
    projector = Projector(engine)
    pa, pb = projector.project(a), projector.project(b)
    assert abs(pa.best.distance - pb.best.distance) < 0.02 and pa.best.predicted == pb.best.predicted == 7


def test_close_is_judged_against_what_the_generator_reaches_for_real_digits(tmp_path, classifier, mnist_dir):
    from latent_explorer.models.projection import open_reach
    from latent_explorer.training.data import load_split

    ck = load_checkpoint(ROOT / "checkpoints" / "gan2d.pt")
    projector = Projector(Engine(ck, classifier))
    reach = open_reach(projector, ck.digest, classifier.digest, mnist_dir, cache=tmp_path, digits=12)
    assert len(reach.distances) == 12 and list(reach.distances) == sorted(reach.distances)
    again = open_reach(Projector(Engine(ck, classifier)), ck.digest, classifier.digest, tmp_path / "none",
                       cache=tmp_path, digits=12)  # from the cache: no data needed
    assert np.array_equal(again.distances, reach.distances)
    test = load_split("test", mnist_dir)
    answers = [projector.project(test.images[i].astype(np.float32) / 127.5 - 1) for i in range(5000, 5006)]
    assert sum(a.poor for a in answers) <= 1  # real digits this generator reaches as well as others are close
    for a in answers:
        assert "real MNIST test digits" in a.sentence() and "nan" not in a.sentence()
    noise = np.where(np.random.default_rng(0).random((28, 28)) > 0.5, 1.0, -1.0).astype(np.float32)
    far = projector.project(noise)
    assert far.poor and far.sentence().startswith("This generator draws nothing close to your digit")
    # the window reads the cache only (never measures on its own): nothing cached, nothing read
    fresh = Projector(Engine(ck, classifier))
    assert open_reach(fresh, ck.digest, classifier.digest, tmp_path / "none", cache=tmp_path / "empty",
                      measure=False) is None and fresh.reach is None and not (tmp_path / "empty").exists()
    assert open_reach(fresh, ck.digest, classifier.digest, None, cache=tmp_path, digits=12, measure=False) is not None


def test_transparent_drawing_uses_its_strokes(tmp_path):
    path = _seven(tmp_path / "alpha.png", ink=(20, 20, 200, 255), paper=(255, 255, 255, 0), mode="RGBA")
    ref = load_digit_image(_seven(tmp_path / "plain.png"))
    assert pixel_distance(load_digit_image(path), ref) < 0.05


def _png_declaring(width: int, height: int) -> bytes:
    """A small PNG file whose header declares ``width`` x ``height`` pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))


def test_bad_images_are_refused_with_the_file_named(tmp_path):
    cases = {}
    (tmp_path / "empty.png").write_bytes(b"")
    cases["empty.png"] = "empty"
    (tmp_path / "text.png").write_text("not an image")
    cases["text.png"] = "not an image"
    (tmp_path / "huge.png").write_bytes(_png_declaring(100_000, 100_000))  # past PIL's own bomb limit
    cases["huge.png"] = "refused before decoding"
    (tmp_path / "big.png").write_bytes(_png_declaring(8000, 8000))  # past ours only
    cases["big.png"] = "8000 x 8000 pixels is larger than the limit of 40,000,000 pixels (refused before decoding)"
    Image.new("L", (50, 50), 255).save(tmp_path / "blank.png")
    cases["blank.png"] = "blank"
    _seven(tmp_path / "cut.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "cut.png").read_bytes()[:200])
    cases["cut.png"] = "damaged"
    cases["missing.png"] = "not found"
    for name, words in cases.items():
        with pytest.raises(DigitImageError) as err:
            load_digit_image(tmp_path / name)
        assert name in str(err.value) and words in str(err.value), str(err.value)
    with pytest.raises(DigitImageError, match="blank"):
        mnist_like(np.zeros((28, 28)))


# ---------------------------------------------------------------- projection


def _smallest_singular_value(engine: Engine, z: np.ndarray, digit) -> float:
    """Of the generator's Jacobian at z (central differences), in RMS pixel change per unit of z."""
    h, d = 1e-3, len(z)
    pts = np.concatenate([z + h * np.eye(d), z - h * np.eye(d)])
    imgs = engine.images(pts, None if digit is None else np.full(2 * d, digit)).reshape(2 * d, -1) / 2.0
    jac = (imgs[:d] - imgs[d:]).T / (2 * h)
    return float(np.linalg.svd(jac, compute_uv=False)[-1]) / 28.0


@pytest.mark.parametrize("name,digit,count", [("gan2d", None, 2), ("gan3d", None, 2), ("cgan2d", 4, 2)])
def test_projecting_generated_images_finds_them(classifier, name, digit, count):
    engine = Engine(load_checkpoint(ROOT / "checkpoints" / f"{name}.pt"), classifier)
    projector = Projector(engine)  # the app's settings
    rng = np.random.default_rng(7)
    one_to_one = 0
    for _ in range(count):
        z_star = rng.uniform(-0.9, 0.9, engine.latent_dim)
        target = engine.images(z_star[None], None if digit is None else np.array([digit]))[0]
        proj = projector.project(target, digit)
        best = proj.best
        assert np.all(np.abs(best.point) <= 1.0)
        assert best.digit == digit
        assert best.pixel < 0.01, (z_star, best.point, best.pixel)
        assert pixel_distance(engine.images(best.point[None], None if digit is None else np.array([digit]))[0],
                              target) == pytest.approx(best.pixel, abs=1e-4)
        assert not proj.poor and "does not draw" not in proj.sentence()
        smallest = _smallest_singular_value(engine, z_star, digit)
        if smallest > 0.02:  # locally one-to-one here: a pixel distance p allows a step of about p / smallest
            assert np.max(np.abs(best.point - z_star)) < max(0.05, 2 * best.pixel / smallest), \
                (z_star, best.point, best.pixel, smallest)
            one_to_one += 1
    assert one_to_one >= 1  # the point itself was checked somewhere


def test_projection_answers_poor_matches_plainly_and_cancels(classifier):
    from latent_explorer.models.atlas import Cancelled

    engine = Engine(load_checkpoint(ROOT / "checkpoints" / "gan2d.pt"), classifier)
    projector = Projector(engine, per_axis=12)
    noise = np.where(np.random.default_rng(0).random((28, 28)) > 0.5, 1.0, -1.0).astype(np.float32)
    proj = projector.project(noise)
    assert proj.poor
    assert proj.sentence().startswith("This generator does not draw anything close to your digit: closest is a ")
    assert [m.distance for m in proj.matches] == sorted(m.distance for m in proj.matches)
    for a in proj.matches:  # distinct points
        assert sum(np.max(np.abs(a.point - b.point)) < MIN_SEPARATION for b in proj.matches) == 1
    assert len(proj.candidates) == 5
    with pytest.raises(Cancelled):
        projector.project(noise, cancelled=lambda: True)
    with pytest.raises(ValueError, match="28 x 28"):
        projector.project(np.zeros((27, 28), np.float32))


# ---------------------------------------------------------------- neighbours


def test_a_training_image_is_its_own_nearest_neighbour(index_cache, classifier, mnist_dir):
    index = open_index(classifier, mnist_dir, cache=index_cache, limit=LIMIT)
    assert len(index) == LIMIT
    for i in (0, 123, LIMIT - 1):
        q = index.images[i].astype(np.float32) / 127.5 - 1.0
        for space in ("feature", "pixel"):
            nb = index.query(q, 8, space)
            assert nb.indices[0] == i and nb.distances[0] == pytest.approx(0.0, abs=1e-3)
            assert len(nb.indices) == 8 and np.all(np.diff(nb.distances) >= 0)
            assert nb.labels[0] == index.labels[i]
        assert "possibly a copy" in index.gauge(0.0).verdict()
    # the pixel search is exact: the same as brute force
    q = index.images[5].astype(np.float32) / 127.5 - 1.0 + 0.05
    brute = np.sqrt(np.mean((index.images.reshape(LIMIT, -1) / 255.0 - (q.reshape(-1) + 1) / 2) ** 2, axis=1))
    assert list(index.query(q, 8, "pixel").indices) == list(np.argsort(brute, kind="stable")[:8])
    med, p5, p95 = index.stats[0]
    assert 0 < p5 <= med <= p95


def test_both_searches_are_exact_against_brute_force(index_cache, classifier, mnist_dir):
    """The lower bounds (principal directions plus the residual's length) never drop a true
    neighbour: blends of two training digits with noise, k = 1, 8 and 50, both spaces."""
    index = open_index(classifier, mnist_dir, cache=index_cache, limit=LIMIT)
    rng = np.random.default_rng(7)
    flat01 = index.images.reshape(LIMIT, -1) / 255.0
    for trial in range(12):
        a, b = rng.choice(LIMIT, 2, replace=False)
        w = rng.uniform(0.2, 0.8)
        q01 = np.clip(w * flat01[a] + (1 - w) * flat01[b] + rng.normal(0, 0.1 * (trial % 3), 784), 0, 1)
        q = (q01 * 2 - 1).reshape(28, 28).astype(np.float32)
        feat = index.embed(q[None])[0]
        brute = {"pixel": np.sqrt(np.mean((flat01 - q01.astype(np.float32)) ** 2, axis=1)),
                 "feature": np.sqrt(np.sum((index.features - feat) ** 2, axis=1))}
        for space, d in brute.items():
            for k in (1, 8, 50):
                nb = index.query(q, k, space)
                want = np.sort(d)[:k]
                np.testing.assert_allclose(nb.distances, want, atol=1e-5, err_msg=f"{space} k={k} trial {trial}")
                np.testing.assert_allclose(d[nb.indices], nb.distances, atol=1e-5)


def test_the_index_cache_is_checked_and_rebuilt_when_damaged(index_cache, classifier, mnist_dir, tmp_path):
    from latent_explorer.models.atlas import Cancelled

    folder = tmp_path / "cache"
    with pytest.raises(Cancelled):
        open_index(classifier, mnist_dir, cache=folder, limit=300, cancelled=lambda: True)
    assert not (folder / "neighbours").exists() or not any((folder / "neighbours").iterdir())  # nothing cached
    first = open_index(classifier, mnist_dir, cache=folder, limit=300)
    path = cache_path(folder, first.key)
    assert path.is_file() and str(path).startswith(str(folder))
    again = open_index(classifier, mnist_dir, cache=folder, limit=300)
    np.testing.assert_array_equal(again.features, first.features)
    path.write_bytes(b"garbage")
    notes: list[str] = []
    rebuilt = open_index(classifier, mnist_dir, cache=folder, limit=300, notes=notes)
    assert notes and "rebuilt" in notes[0] and str(path) in notes[0]
    np.testing.assert_allclose(rebuilt.features, first.features, atol=1e-6)
    other = open_index(classifier, mnist_dir, cache=folder, limit=200)
    assert other.key != first.key  # other data, other file


# ---------------------------------------------------------------- the dock in the window


def _drag(pad, points) -> None:
    """A left-button stroke through pad-pixel positions, with real mouse events."""
    QTest.mousePress(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[0])
    for p in points[1:]:
        QTest.mouseMove(pad, p)
    QTest.mouseRelease(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[-1])


def test_draw_find_and_visit_in_the_window(qtbot, make_window, monkeypatch, index_cache, mnist_dir):
    from PySide6.QtCore import QPoint

    from latent_explorer.app.qt.panels.map2d import Map2DPanel

    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(index_cache))
    w = make_window(model="gan2d")
    panel = w.find_dock.panel
    panel.index_limit, panel.data_dir = LIMIT, str(mnist_dir)
    panel.grid_per_axis = 12  # a coarser grid than the app's: the search itself is tested above
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(w, "show_error", lambda title, text: shown.append((title, text)))
    w.find_dock.show()
    qtbot.waitExposed(panel.pad)
    st = w.state
    assert st.point == (0.0, 0.0)
    qtbot.mouseClick(panel.find_button, Qt.MouseButton.LeftButton)  # a blank pad
    assert shown and "blank" in shown[-1][1] and panel.job is None
    side = panel.pad.width()
    stroke = [QPoint(int(side * x), int(side * y)) for x, y in ((0.3, 0.25), (0.7, 0.25), (0.6, 0.5), (0.45, 0.8))]
    _drag(panel.pad, stroke)
    assert panel.pad.ink.sum() > 10 and len(panel.pad.undo_stack) == 1
    qtbot.mouseClick(panel.find_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.result is not None and panel.job is None, timeout=120000)
    best = panel.result.best
    assert st.point == pytest.approx(tuple(best.point), abs=1e-6) and st.point != (0.0, 0.0)
    qtbot.waitUntil(lambda: st.frame is not None and np.allclose(st.frame.point, best.point, atol=1e-5), timeout=10000)
    np.testing.assert_allclose(st.frame.image, best.image, atol=1e-4)  # the explorer shows the best image
    assert panel.sentence.text().startswith(("Closest image", "This generator does not draw",
                                             "This generator draws nothing close"))
    assert panel.target_img.pixmap() is not None and not panel.target_img.pixmap().isNull()
    # the numbered candidates on the map; a click on one visits it
    view = w.map_area.panel(Map2DPanel).view
    assert panel.result.candidates
    ov = next(o for o in panel.overlays if o.view is view)
    assert len(ov.markers.data) == len(panel.result.candidates)
    cand = panel.result.candidates[-1].point
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.view_to_widget(*cand))
    assert st.point == pytest.approx(tuple(cand), abs=1e-6)  # exactly the candidate: the marker took the click
    # undo and clear
    qtbot.mouseClick(panel.undo_button, Qt.MouseButton.LeftButton)
    assert panel.pad.ink.sum() == 0
    # the nearest training images follow the current image
    qtbot.waitUntil(lambda: panel.index is not None, timeout=60000)
    qtbot.waitUntil(lambda: "typically" in panel.gauge.text(), timeout=10000)
    assert all(not img.pixmap().isNull() for img, _cap in panel.thumbs)
    before = list(panel.neighbours.indices)
    panel.space.setCurrentIndex(1)  # pixels
    assert panel.neighbours.space == "pixel"
    st.set_point((-0.7, 0.6))
    qtbot.waitUntil(lambda: list(panel.neighbours.indices) != before, timeout=10000)
    # a bad image file: a dialog names it, the pad keeps its drawing
    _drag(panel.pad, stroke)
    ink = panel.pad.ink.copy()
    bad = Path(str(index_cache)) / "not-an-image.png"
    bad.write_text("hello")
    assert not panel.load_image(bad)
    assert "not-an-image.png" in shown[-1][1]
    np.testing.assert_array_equal(panel.pad.ink, ink)


def test_candidates_on_the_3d_slices_visit_their_point(qtbot, make_window, monkeypatch):
    from latent_explorer.app.qt.panels.slices3d import Slices3DPanel

    w = make_window(model="gan3d")
    panel = w.find_dock.panel
    panel.grid_per_axis = 5
    panel.neighbours_box.setChecked(False)  # this test is about the slices
    w.find_dock.show()
    panel.pad.stroke((8.0, 8.0), (20.0, 20.0))
    qtbot.mouseClick(panel.find_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.result is not None and panel.job is None, timeout=120000)
    assert w.state.point == pytest.approx(tuple(panel.result.best.point), abs=1e-6)
    slices = w.map_area.panel(Slices3DPanel)
    on_slices = [o for o in panel.overlays if any(o.view is v for v in slices.views)]
    assert len(on_slices) == len(slices.views) == 3
    cand = panel.result.candidates[0].point
    for ov in on_slices:  # each slice shows the candidates on its own plane
        u, v = ov.axes()
        assert ov.markers.data[0]["x"] == pytest.approx(cand[u]) and ov.markers.data[0]["y"] == pytest.approx(cand[v])
    # click the candidate that stands farthest from the others on its slice
    pts = np.stack([m.point for m in panel.result.candidates])

    def apart(ov, k):
        u, v = ov.axes()
        d = np.hypot(pts[:, u] - pts[k, u], pts[:, v] - pts[k, v])
        return np.min(np.delete(d, k)) if len(pts) > 1 else 9.0

    ov, k = max(((o, k) for o in on_slices for k in range(len(pts))), key=lambda ok: apart(*ok))
    u, v = ov.axes()
    qtbot.mouseClick(ov.view.viewport(), Qt.MouseButton.LeftButton, pos=ov.view.view_to_widget(pts[k, u], pts[k, v]))
    assert w.state.point == pytest.approx(tuple(pts[k]), abs=1e-6)  # all three coordinates, not just the plane's


# ---------------------------------------------------------------- command line


def cli(*args) -> int:
    from latent_explorer.app.cli import main

    return main(list(args))


def test_cli_project_writes_json_and_figure(tmp_path, capsys):
    img = _seven(tmp_path / "seven.png")
    cli_no_data = ["--data", str(tmp_path / "no-mnist")]  # "close" by the fixed bar: no real digits to measure
    out, js = tmp_path / "p.png", tmp_path / "p.json"
    assert cli("project", str(img), "--model", "gan2d", "-o", str(out), "--json", str(js), *cli_no_data) == 0
    assert "no MNIST test digits to compare with" in capsys.readouterr().out
    data = json.loads(js.read_text())
    assert len(data["best"]["point"]) == 2 and data["weights"] == {"pixel": 1.0, "feature": 0.5}
    assert Image.open(out).size[0] > 500
    assert cli("project", str(img), "--model", "gan2d", "--json", str(js), *cli_no_data) == 1  # no silent overwrite
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("args,words", [
    (["project", "{tmp}/missing.png"], "missing.png: file not found"),
    (["project", "{tmp}/blank.png"], "blank"),
    (["project", "{tmp}/seven.png", "--digit", "3"], "not conditional"),
    (["project", "{tmp}/seven.png", "--pixel-weight", "0", "--feature-weight", "0"], "weights"),
    (["project", "{tmp}/seven.png", "-o", "{tmp}/nofolder/x.png"], "does not exist"),
    (["neighbours", "--model", "gan2d", "--point", "0.5"], "1 coordinate"),
    (["neighbours", "--model", "gan2d", "--point", "2,0"], "outside the latent box"),
    (["neighbours", "--model", "gan2d", "--point", "0,0", "-k", "0"], "-k must be"),
])
def test_cli_bad_input(tmp_path, capsys, args, words):
    _seven(tmp_path / "seven.png")
    Image.new("L", (40, 40), 0).save(tmp_path / "blank.png")
    assert cli(*[a.format(tmp=tmp_path) for a in args]) == 1
    assert words in capsys.readouterr().err


def test_cli_neighbours(tmp_path, capsys, monkeypatch, index_cache, mnist_dir):
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(index_cache))  # the small index built above
    js, fig = tmp_path / "n.json", tmp_path / "n.png"
    assert cli("neighbours", "--model", "gan2d", "--point", "0.1,-0.2", "--data", str(mnist_dir), "--limit",
               str(LIMIT), "--space", "pixel", "--json", str(js), "-o", str(fig)) == 0
    data = json.loads(js.read_text())
    assert data["space"] == "pixel" and len(data["neighbours"]) == 8
    assert all(0 <= n["index"] < LIMIT for n in data["neighbours"])
    assert data["gauge"]["distance"] == data["neighbours"][0]["distance"] and data["gauge"]["verdict"]
    assert Image.open(fig).size[0] > 500
    assert "gauge:" in capsys.readouterr().out
    assert cli("neighbours", "--model", "gan2d", "--point", "0,0", "--data", str(tmp_path / "nodata")) == 1
    assert "file not found" in capsys.readouterr().err
