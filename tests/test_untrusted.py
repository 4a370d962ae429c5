"""Untrusted files, case by case: declared sizes are checked against the file before
anything is allocated, checkpoints that carry code are refused without running it (by
every pickle route to a callable), and atlases and histories are refused for a model
they do not belong to.

The fuzzing in test_fuzz.py covers the same loaders at random; these cases pin down
the attacks by name, and each would pass under the code before these checks existed
only by failing (see the comments).
"""
from __future__ import annotations

import copyreg
import gzip
import io
import pickle
import struct
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from latent_explorer.models.atlas import AtlasError, build_full, load_atlas
from latent_explorer.models.checkpoint import CheckpointError, load_checkpoint, read_payload, save_checkpoint, save_payload
from latent_explorer.models.classifier import ClassifierConfig, DigitClassifier
from tests.conftest import make_generator
from tests.hardening import assert_not_an_allocation_failure, memory_ceiling, small_history
from latent_explorer.training.data import DataError, read_idx_images, read_idx_labels
from latent_explorer.training.history import History, HistoryError

MB = 1 << 20


@pytest.fixture(autouse=True)
def _ceiling():
    with memory_ceiling():
        yield


class PeakMemory:
    """Peak Python/numpy heap use inside the block (tracemalloc sees both)."""

    def __enter__(self):
        tracemalloc.start()
        return self

    def __exit__(self, *exc):
        self.peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def _refused(load, path, error, match):
    with PeakMemory() as mem, pytest.raises(error, match=match) as info:
        load(path)
    assert str(path) in str(info.value)
    assert_not_an_allocation_failure(info.value)
    return mem.peak


# ------------------------------------------------------------------ IDX

@pytest.mark.parametrize("compress", [True, False])
def test_idx_header_declaring_a_million_images_allocates_nothing(tmp_path, compress):
    raw = struct.pack(">IIII", 2051, 1_000_000, 28, 28) + bytes(784)
    path = tmp_path / "images.idx"
    path.write_bytes(gzip.compress(raw) if compress else raw)
    # (before: 784 MB were allocated for the declared images before the file was found short)
    assert _refused(read_idx_images, path, DataError, "declares 1000000 images") < 4 * MB


def test_idx_labels_declaring_more_than_the_file_holds(tmp_path):
    path = tmp_path / "labels.idx.gz"
    path.write_bytes(gzip.compress(struct.pack(">II", 2049, 999_999) + bytes(10)))
    assert _refused(read_idx_labels, path, DataError, "declares 999999 labels") < 4 * MB


def test_gzip_bomb_within_the_limits_is_read_in_steps(tmp_path):
    """A header that matches a highly compressed body is legitimate; memory follows the data."""
    raw = struct.pack(">II", 2049, 200_000) + bytes(200_000)
    path = tmp_path / "labels.idx.gz"
    path.write_bytes(gzip.compress(raw, 9))
    assert path.stat().st_size < 1000
    assert len(read_idx_labels(path)) == 200_000


# ------------------------------------------------------------------ checkpoints

@pytest.fixture
def tiny(tmp_path) -> Path:
    torch.manual_seed(0)
    model = DigitClassifier(ClassifierConfig(width=1, features=2))
    path = tmp_path / "tiny.pt"
    save_checkpoint(path, "classifier", model.config.to_dict(), model, {"note": "tiny"})
    return path


def _rezip(src: Path, dst: Path, replace: dict[str, bytes] | None = None, compress=zipfile.ZIP_STORED) -> Path:
    out = io.BytesIO()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", compress) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            for suffix, new in (replace or {}).items():
                if info.filename.endswith(suffix):
                    data = new
            zout.writestr(info.filename, data)
    dst.write_bytes(out.getvalue())
    return dst


def test_compressed_archive_entries_are_refused(tiny, tmp_path):
    """torch.load allocates an entry at its declared (uncompressed) size; deflate packs up to
    ~1000x, so a small file could demand gigabytes.  torch.save never compresses."""
    plain = tmp_path / "plain.pt"
    torch.save({"format": "latent-explorer", "w": torch.zeros(50 * MB, dtype=torch.uint8)}, plain)
    bomb = _rezip(plain, tmp_path / "bomb.pt", compress=zipfile.ZIP_DEFLATED)
    plain.unlink()
    assert bomb.stat().st_size < MB
    # (before: loaded, 50 MB from a file of 50 kB)
    assert _refused(read_payload, bomb, CheckpointError, "compressed") < 4 * MB
    assert _refused(load_checkpoint, _rezip(tiny, tmp_path / "deflated.pt", compress=zipfile.ZIP_DEFLATED),
                    CheckpointError, "compressed") < 4 * MB


def test_archive_entry_declaring_more_than_the_file_is_refused(tiny, tmp_path):
    blob = bytearray(tiny.read_bytes())
    with zipfile.ZipFile(tiny) as zf:
        name = next(i.filename for i in zf.infolist() if i.filename.endswith("data/0"))
    cd = blob.find(b"PK\x01\x02")
    while cd != -1:
        (name_len,) = struct.unpack_from("<H", blob, cd + 28)
        if blob[cd + 46:cd + 46 + name_len].decode() == name:
            struct.pack_into("<II", blob, cd + 20, 2 ** 31, 2 ** 31)  # compressed and uncompressed size
        cd = blob.find(b"PK\x01\x02", cd + 4)
    path = tmp_path / "liar.pt"
    path.write_bytes(bytes(blob))
    _refused(load_checkpoint, path, CheckpointError, "more than the")


def test_stride_zero_view_declaring_a_huge_tensor_is_refused(tmp_path):
    """A 4-byte storage viewed with stride 0 as 2^40 elements: torch.load builds the view;
    the first .contiguous() (the digest, a copy) would allocate 4 TB."""
    path = tmp_path / "view.pt"
    torch.save({"format": "latent-explorer", "state_dict": {"w": torch.zeros(1).expand(2 ** 40)}}, path)
    assert path.stat().st_size < 4096
    # (before: read_payload returned the view)
    _refused(read_payload, path, CheckpointError, "declares more data")


def test_legacy_format_declaring_a_huge_storage_is_refused(tmp_path):
    """The legacy (non-zip) torch format allocates the storage size written in its pickle
    before reading the data: 2^40 floats here."""
    buf = io.BytesIO()
    torch.save({"w": torch.arange(4.0)}, buf, _use_new_zipfile_serialization=False)
    blob = buf.getvalue()
    at = blob.index(b"cpuq")
    end = blob.index(b"K\x04", at)
    blob = blob[:end] + b"\x8a\x06" + (2 ** 40).to_bytes(6, "little") + blob[end + 2:]
    path = tmp_path / "legacy.pt"
    path.write_bytes(blob)
    _refused(read_payload, path, CheckpointError, "not a PyTorch zip archive")


def test_config_declaring_a_huge_network_is_refused_before_building_it(tiny, tmp_path):
    """A classifier config of width 4096 with the tiny network's weights: building it first
    would allocate over 100 GB; the shapes are compared on the meta device instead."""
    payload = read_payload(tiny)
    payload["config"] = {"width": 4096, "features": 65536}
    path = tmp_path / "wide.pt"
    save_payload(path, payload)
    _refused(load_checkpoint, path, CheckpointError, "weights do not match the config")


def test_exponential_nesting_through_the_memo_is_refused(tmp_path):
    """Memo references let a 1 kB pickle describe 2^40 values (each level holds the previous
    one twice); anything that walks or prints it would never finish."""
    nest: list = []
    for _ in range(40):
        nest = [nest, nest]
    path = tmp_path / "laughs.pt"
    torch.save({"format": "latent-explorer", "meta": {"x": nest}}, path)
    assert path.stat().st_size < 4096
    _refused(read_payload, path, CheckpointError, "nested too deeply|more than 100,000 values")


def test_a_real_training_state_still_loads(tmp_path):
    """The limits leave room for real payloads: optimizer state with every tensor."""
    from latent_explorer.models.networks import Discriminator, GanConfig, Generator

    g, d = Generator(GanConfig(2)), Discriminator(GanConfig(2))
    opt = torch.optim.Adam(g.parameters())
    g(torch.rand(2, 2)).sum().backward()
    opt.step()
    save_payload(tmp_path / "s.pt", {"format": "x", "generator": g.state_dict(), "discriminator": d.state_dict(),
                                     "opt_g": opt.state_dict()})
    assert set(read_payload(tmp_path / "s.pt")["opt_g"]["state"]) == set(range(len(list(g.parameters()))))


# code-carrying data.pkl: every pickle route to a callable.  Each would run `touch MARKER`.
def _payloads(marker: Path) -> dict[str, bytes]:
    cmd = f"touch {marker}".encode()
    code = f"import os; os.system({str(cmd.decode())!r})".encode()

    class Reduce:
        def __reduce__(self):
            return (__import__("os").system, (f"touch {marker}",))

    copyreg.add_extension("posix", "system", 0x7A)
    try:
        ext = pickle.dumps(Reduce(), protocol=2)
    finally:
        copyreg.remove_extension("posix", "system", 0x7A)
    assert b"\x82" in ext  # EXT1 opcode, no GLOBAL
    return {
        "GLOBAL+REDUCE": pickle.dumps(Reduce(), protocol=2),
        "STACK_GLOBAL+REDUCE": pickle.dumps(Reduce(), protocol=4),
        "INST": b"(S'" + cmd + b"'\nios\nsystem\n.",
        "OBJ": b"(cos\nsystem\nS'" + cmd + b"'\no.",
        "GLOBAL builtins.exec": b"\x80\x02cbuiltins\nexec\nX" + len(code).to_bytes(4, "little") + code + b"\x85R.",
        "EXT1 (copyreg extension code)": ext,
        "inside the payload dict": b"\x80\x02}X\x06\x00\x00\x00formatX\x0f\x00\x00\x00latent-explorers"
                                   b"X\x04\x00\x00\x00metacos\nsystem\nX" + len(cmd).to_bytes(4, "little") + cmd
                                   + b"\x85Rs.",
    }


def test_code_in_data_pkl_is_refused_by_every_opcode_route(tiny, tmp_path):
    marker = tmp_path / "pwned"
    for name, evil in _payloads(marker).items():
        path = _rezip(tiny, tmp_path / f"evil-{len(name)}.pt", {"data.pkl": evil})
        with pytest.raises(CheckpointError, match=str(path)):
            load_checkpoint(path)
        assert not marker.exists(), name


def test_the_payloads_are_live(tmp_path):
    """Control: unpickled without weights_only, the payloads above do run (so the refusal
    above is what keeps the marker from appearing)."""
    for name in ("GLOBAL+REDUCE", "STACK_GLOBAL+REDUCE", "INST", "OBJ", "GLOBAL builtins.exec",
                 "inside the payload dict"):
        marker = tmp_path / f"ran-{name.replace(' ', '_').replace('+', '_')}"
        evil = _payloads(marker)[name]
        subprocess.run([sys.executable, "-c", "import pickle, sys; pickle.loads(sys.stdin.buffer.read())"],
                       input=evil, capture_output=True, check=False)
        assert marker.exists(), name


def test_torchscript_archive_is_refused(tmp_path):
    """A TorchScript file holds code; torch.load would hand it to torch.jit.load."""
    path = tmp_path / "script.pt"
    torch.jit.script(torch.nn.Linear(2, 2)).save(str(path))
    with pytest.raises(CheckpointError, match=str(path)):
        load_checkpoint(path)


def test_legacy_format_with_code_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"

    class Reduce:
        def __reduce__(self):
            return (__import__("os").system, (f"touch {marker}",))

    path = tmp_path / "legacy.pt"
    torch.save({"x": Reduce()}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match=str(path)):
        load_checkpoint(path)
    assert not marker.exists()


# ------------------------------------------------------------------ HDF5

@pytest.fixture(scope="module")
def small_atlas(tmp_path_factory, classifier):
    folder = tmp_path_factory.mktemp("untrusted")
    g = load_checkpoint(make_generator(folder / "g.pt", 3, seed=2))
    path = folder / "a.h5"
    build_full(g, classifier, 4).save(path)
    return path, g, classifier


def _rewrite_atlas(src: Path, dst: Path, **datasets) -> Path:
    with h5py.File(src, "r") as f, h5py.File(dst, "w") as out:
        for k, v in f.attrs.items():
            out.attrs[k] = v
        for k in f:
            if k not in datasets:
                out.create_dataset(k, data=f[k][()])
        for k, make in datasets.items():
            make(out, k)
    return dst


def test_atlas_declaring_cells_it_does_not_store_allocates_nothing(small_atlas, tmp_path):
    src, _, _ = small_atlas
    path = tmp_path / "declared.h5"
    shape = (256, 256, 256)
    with h5py.File(src, "r") as f, h5py.File(path, "w") as out:
        for k, v in f.attrs.items():
            out.attrs[k] = v
        out.attrs["resolution"] = 256
        for k in ("labels", "confidence", "evaluated"):
            out.create_dataset(k, shape=shape, dtype=f[k].dtype, chunks=(16, 16, 16))
    assert path.stat().st_size < 64 * 1024
    # (before: 16.7 M cells of labels and confidence were read: about 50 MB from a 10 kB file)
    assert _refused(load_atlas, path, AtlasError, "declares") < 4 * MB


def test_atlas_with_data_in_another_file_is_refused(small_atlas, tmp_path):
    src, _, _ = small_atlas
    outside = tmp_path / "outside.bin"
    outside.write_bytes(bytes(range(10)) * 100)
    path = _rewrite_atlas(src, tmp_path / "external.h5", labels=lambda f, k: f.create_dataset(
        k, shape=(4, 4, 4), dtype=np.uint8, external=[(str(outside), 0, 64)]))
    _refused(load_atlas, path, AtlasError, "outside the file")


def test_atlas_with_wide_types_is_refused_before_reading(small_atlas, tmp_path):
    src, _, _ = small_atlas
    path = _rewrite_atlas(src, tmp_path / "wide.h5",
                          labels=lambda f, k: f.create_dataset(k, data=np.zeros((4, 4, 4), np.float64)))
    _refused(load_atlas, path, AtlasError, "type float64")
    path = _rewrite_atlas(src, tmp_path / "text.h5", confidence=lambda f, k: f.create_dataset(
        k, data=np.full((4, 4, 4), "0.5", dtype=object), dtype=h5py.string_dtype()))
    _refused(load_atlas, path, AtlasError, "type")


def test_history_declaring_epochs_it_does_not_store_allocates_nothing(tmp_path):
    path = tmp_path / "h.h5"
    small_history().save(path)
    with h5py.File(path, "a") as f:
        f.attrs["epochs"] = 2000
        for key, shape in (("epochs/grid", (2000, 64, 28, 28)), ("epochs/map", (2000, 1, 8, 8)),
                           ("epochs/map_conf", (2000, 1, 8, 8))):
            dtype = f[key].dtype
            del f[key]
            f.create_dataset(key, shape=shape, dtype=dtype, chunks=(1,) + shape[1:])
        for key in ("epochs/change_rate", "epochs/weak_judge_acc", "epochs/seconds"):
            dtype = f[key].dtype
            del f[key]
            f.create_dataset(key, data=np.zeros(2000, dtype))
    assert path.stat().st_size < MB
    # (before: 100 MB of empty image grids were read and the file loaded as 2000 epochs)
    assert _refused(History.load, path, HistoryError, "declares") < 4 * MB


# ------------------------------------------------------------------ belonging

def test_atlas_of_another_generator_or_classifier_is_refused(small_atlas, tmp_path):
    path, g, clf = small_atlas
    other = load_checkpoint(make_generator(tmp_path / "other.pt", 3, seed=3))
    assert load_atlas(path, g.digest, clf.digest).generator_digest == g.digest
    with pytest.raises(AtlasError, match="another generator"):
        load_atlas(path, other.digest, clf.digest)
    with pytest.raises(AtlasError, match="another classifier"):
        load_atlas(path, g.digest, other.digest)


def test_history_of_another_generator_or_classifier_is_refused(tmp_path):
    h = small_history()
    path = tmp_path / "h.h5"
    h.save(path)
    assert History.load(path).epochs == 2  # no digests given: no check
    assert History.load(path, h.generator_digest, h.classifier_digest).epochs == 2
    with pytest.raises(HistoryError, match=f"{path}: this history belongs to another generator"):
        History.load(path, generator_digest="ef" * 32)
    with pytest.raises(HistoryError, match="labelled by another classifier"):
        History.load(path, h.generator_digest, classifier_digest="ef" * 32)
    with pytest.raises(HistoryError, match="another generator"):
        History.load(path).check_belongs("ef" * 32)


def test_a_trained_history_belongs_to_its_checkpoint(tmp_path, mnist_dir, classifier_path):
    """The digests recorded by training are the checkpoint's and the classifier's."""
    from latent_explorer.training.train_gan import GanRun, train_gan

    run = GanRun(latent_dim=2, epochs=1, batch_size=64, limit=128, map_precision="float32")
    result = train_gan(run, data=str(mnist_dir), out=tmp_path, classifier_path=classifier_path,
                       evaluate_at_end=False, quiet=True, log=lambda *_: None)
    ck, clf = load_checkpoint(result["checkpoint"]), load_checkpoint(classifier_path)
    assert History.load(result["history"], ck.digest, clf.digest).epochs == 1
    other = load_checkpoint(make_generator(tmp_path / "other.pt", 2, seed=1))
    with pytest.raises(HistoryError, match="another generator"):
        History.load(result["history"], other.digest, clf.digest)


def test_the_torch_free_reader_refuses_the_same_files_without_running_or_allocating(tiny, tmp_path):
    """models/previewread.py (the first frame's reader and the model chooser's header
    reader) on the files above: code never runs, nothing huge is allocated, and what it
    does not read is left to the torch loader (PreviewUnavailable) or refused outright."""
    from latent_explorer.models.previewread import ArraySpec, PreviewUnavailable, read_arrays, read_header

    marker = tmp_path / "pwned"
    for name, evil in _payloads(marker).items():
        path = _rezip(tiny, tmp_path / f"evil-{len(name)}.pt", {"data.pkl": evil})
        for read in (read_header, read_arrays):
            with pytest.raises((PreviewUnavailable, CheckpointError)):
                read(path)
        assert not marker.exists(), name
    view = tmp_path / "view.pt"
    torch.save({"format": "latent-explorer", "state_dict": {"w": torch.zeros(1).expand(2 ** 40)}}, view)
    with PeakMemory() as mem, pytest.raises(PreviewUnavailable, match="larger than it"):
        read_arrays(view)
    assert mem.peak < 16 * MB
    nest: list = []
    for _ in range(40):
        nest = [nest, nest]
    laughs = tmp_path / "laughs.pt"
    torch.save({"format": "latent-explorer", "kind": "gan", "meta": {"x": nest}}, laughs)
    with PeakMemory() as mem:
        assert read_header(laughs)["kind"] == "gan"  # shared references: nothing walks them
    assert mem.peak < 16 * MB
    script = tmp_path / "script.pt"
    torch.jit.script(torch.nn.Linear(2, 2)).save(str(script))
    with pytest.raises((PreviewUnavailable, CheckpointError)):
        read_header(script)
    compressed = _rezip(tiny, tmp_path / "deflated.pt", compress=zipfile.ZIP_DEFLATED)
    with pytest.raises(CheckpointError, match="compressed"):
        read_header(compressed)
    assert all(isinstance(v, ArraySpec) for v in read_header(tiny)["state_dict"].values())
