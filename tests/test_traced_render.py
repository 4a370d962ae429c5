"""The traced single-point render (models/tracedrender.py): the same frames as the eager
render, bit for bit, built once per model content, and what the GUI's render thread uses."""
from __future__ import annotations

import copy
import sys

import numpy as np
import pytest

from conftest import ROOT, make_generator
from latent_explorer.models.checkpoint import load_checkpoint
from latent_explorer.models.engine import Ablation, Engine, RenderRequest


def _same(a, b) -> None:
    assert np.array_equal(a.image, b.image)
    assert np.array_equal(a.probs, b.probs)
    assert a.is_digit == b.is_digit
    assert a.digit_score == b.digit_score or (np.isnan(a.digit_score) and np.isnan(b.digit_score))
    assert a.activations.keys() == b.activations.keys()
    for k in a.activations:
        assert a.activations[k].dtype == b.activations[k].dtype
        assert np.array_equal(a.activations[k], b.activations[k]), k


@pytest.mark.parametrize("name", ["gan3d", "cgan2d"])
def test_traced_frames_equal_eager_frames(classifier, name):
    ckpt = load_checkpoint(ROOT / "checkpoints" / f"{name}.pt")
    eager = Engine(ckpt, classifier)
    traced = Engine(copy.deepcopy(ckpt), copy.deepcopy(classifier), traced=True)
    assert traced.trace_pending and not traced.is_traced
    assert traced.prepare_trace() and traced.is_traced and not traced.trace_pending
    rng = np.random.default_rng(0)
    for k in range(12):
        request = RenderRequest(point=tuple(rng.uniform(-1, 1, eager.latent_dim)),
                                digit=k % 10 if eager.conditional else None, capture=k % 2 == 0)
        _same(eager.render(request), traced.render(request))
    assert np.isfinite(traced.render(RenderRequest(point=(0.0,) * eager.latent_dim, digit=3)).digit_score)


def test_ablations_take_the_eager_path_and_still_apply(classifier):
    ckpt = load_checkpoint(ROOT / "checkpoints" / "gan2d.pt")
    eager = Engine(ckpt, classifier)
    traced = Engine(copy.deepcopy(ckpt), copy.deepcopy(classifier), traced=True)
    traced.prepare_trace()
    request = RenderRequest(point=(0.3, -0.2), ablations=(Ablation("act2"),))
    a, b = eager.render(request), traced.render(request)
    _same(a, b)
    assert b.reference_image is not None and not np.array_equal(b.image, b.reference_image)
    assert not b.activations["act2"].any()  # the ablation did zero the layer


def test_one_trace_per_model_content(tmp_path, classifier):
    """Tracing keeps its graph for the life of the process (torch's global compilation unit),
    so engines of the same content share one trace; other weights get their own."""
    path = make_generator(tmp_path / "g.pt", 2, seed=1)
    engines = [Engine(load_checkpoint(path), copy.deepcopy(classifier), traced=True) for _ in range(2)]
    other = Engine(load_checkpoint(make_generator(tmp_path / "h.pt", 2, seed=2)), classifier, traced=True)
    for e in engines + [other]:
        assert e.prepare_trace()
    assert engines[0]._traced is engines[1]._traced
    assert other._traced is not engines[0]._traced
    request = RenderRequest(point=(0.5, 0.5))
    assert not np.array_equal(engines[1].render(request).image, other.render(request).image)


def test_an_engine_not_asked_to_trace_stays_eager(classifier):
    e = Engine(load_checkpoint(ROOT / "checkpoints" / "gan2d.pt"), classifier)
    assert not e.trace_pending and not e.prepare_trace() and not e.is_traced


def test_a_traced_render_makes_no_torch_call_from_python_but_the_traced_one(classifier):
    """Each Python tensor made or freed in the render thread, and each torch call, hands the
    GIL to the busy UI thread and waits to get it back (a switch interval each): the traced
    render reaches torch only through the traced module (and the inference-mode guard), and
    its frame holds plain numpy arrays, so freeing it later frees no tensor."""
    ckpt = load_checkpoint(ROOT / "checkpoints" / "cgan2d.pt")
    engine = Engine(ckpt, copy.deepcopy(classifier), traced=True)
    assert engine.prepare_trace()
    request = RenderRequest(point=(0.25, -0.5), digit=7, capture=True)
    engine.render(request)
    calls = []

    def record(frame, event, arg):
        if event == "c_call":  # torch's functions and tensor methods
            module, name = getattr(arg, "__module__", None) or "", getattr(arg, "__qualname__", repr(arg))
            if module.startswith("torch") or name.startswith(("TensorBase.", "_TensorBase.")):
                calls.append(name)

    sys.setprofile(record)
    try:
        frame = engine.render(request)
    finally:
        sys.setprofile(None)
    torch_calls = {c.rsplit(".", 1)[-1] for c in calls}
    assert torch_calls <= {"__enter__", "__exit__", "_get_tracing_state"}, sorted(torch_calls)
    arrays = [frame.image, frame.probs, *frame.activations.values()]
    assert len(frame.activations) == 11
    for a in arrays:
        while a is not None:  # down the chain of bases: numpy views of a bytearray
            assert isinstance(a, (np.ndarray, memoryview, bytearray)), type(a)
            a = a.base if isinstance(a, np.ndarray) else a.obj if isinstance(a, memoryview) else None
    # the eager render (ablations) does make torch calls: the check above can fail
    calls.clear()
    sys.setprofile(record)
    try:
        engine.render(RenderRequest(point=(0.25, -0.5), digit=7, ablations=(Ablation("act2"),)))
    finally:
        sys.setprofile(None)
    assert any(not c.endswith(("__enter__", "__exit__", "_get_tracing_state")) for c in calls)
