"""The IDX reader on the real MNIST files and on damaged copies."""
import gzip
import shutil
import struct

import numpy as np
import pytest

from latent_explorer.training import data
from latent_explorer.training.data import DataError, load_split, read_idx_images, read_idx_labels, resolve_data_dir, verify


def test_real_training_and_test_sets(mnist_dir):
    train, test = load_split("train", mnist_dir), load_split("test", mnist_dir)
    assert train.images.shape == (60000, 28, 28) and train.images.dtype == np.uint8
    assert test.images.shape == (10000, 28, 28)
    assert train.labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert sorted(np.unique(test.labels).tolist()) == list(range(10))
    assert train.images.max() == 255 and train.images.min() == 0


def test_gan_range(mnist_dir):
    x = data.to_gan_range(load_split("test", mnist_dir).images[:100])
    assert x.shape == (100, 1, 28, 28)
    assert float(x.min()) == -1.0 and float(x.max()) == 1.0


def test_verify_real_files(mnist_dir):
    sums = verify(mnist_dir)
    assert sums["train-images-idx3-ubyte.gz"] == "6bbc9ace898e44ae57da46a324031adb"


def _raw(path):
    with gzip.open(path, "rb") as fh:
        return fh.read()


def _write(path, raw):
    with gzip.open(path, "wb") as fh:
        fh.write(raw)
    return path


@pytest.fixture
def labels_raw(mnist_dir):
    return _raw(mnist_dir / "t10k-labels-idx1-ubyte.gz")


@pytest.fixture
def images_raw(mnist_dir):
    return _raw(mnist_dir / "t10k-images-idx3-ubyte.gz")


def test_truncated_gzip_stream(tmp_path, mnist_dir):
    src = (mnist_dir / "t10k-images-idx3-ubyte.gz").read_bytes()
    bad = tmp_path / "t10k-images-idx3-ubyte.gz"
    bad.write_bytes(src[: len(src) // 2])
    with pytest.raises(DataError, match=str(bad)):
        read_idx_images(bad)


def test_truncated_payload(tmp_path, images_raw):
    bad = _write(tmp_path / "img.gz", images_raw[:-784 * 3])
    with pytest.raises(DataError, match="truncated"):
        read_idx_images(bad)


def test_wrong_magic(tmp_path, images_raw, labels_raw):
    bad = _write(tmp_path / "img.gz", struct.pack(">I", 2049) + images_raw[4:])
    with pytest.raises(DataError, match="magic"):
        read_idx_images(bad)
    with pytest.raises(DataError, match="magic"):
        read_idx_labels(_write(tmp_path / "lab.gz", struct.pack(">I", 2051) + labels_raw[4:]))


def test_wrong_image_size(tmp_path, images_raw):
    bad = _write(tmp_path / "img.gz", images_raw[:8] + struct.pack(">II", 32, 32) + images_raw[16:])
    with pytest.raises(DataError, match="32x32"):
        read_idx_images(bad)


def test_huge_declared_count_is_refused_before_allocation(tmp_path, images_raw):
    bad = _write(tmp_path / "img.gz", images_raw[:4] + struct.pack(">I", 0xFFFFFFFF) + images_raw[8:])
    with pytest.raises(DataError, match="out of range"):
        read_idx_images(bad)


def test_trailing_data(tmp_path, labels_raw):
    with pytest.raises(DataError, match="trailing"):
        read_idx_labels(_write(tmp_path / "lab.gz", labels_raw + b"\x00" * 5))


def test_label_out_of_range(tmp_path, labels_raw):
    raw = bytearray(labels_raw)
    raw[8 + 17] = 11
    with pytest.raises(DataError, match="label 11 at index 17"):
        read_idx_labels(_write(tmp_path / "lab.gz", bytes(raw)))


def test_mismatched_counts(tmp_path, mnist_dir, labels_raw):
    for name in ("t10k-images-idx3-ubyte.gz", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        shutil.copy(mnist_dir / name, tmp_path / name)
    # a consistent label file with 9,999 labels
    _write(tmp_path / "t10k-labels-idx1-ubyte.gz", labels_raw[:4] + struct.pack(">I", 9999) + labels_raw[8:-1])
    with pytest.raises(DataError, match="10000 images but .* 9999 labels"):
        load_split("test", tmp_path)


def test_missing_file_names_the_folder(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_split("train", tmp_path)


def test_uncompressed_files_are_read(tmp_path, labels_raw):
    p = tmp_path / "labels.idx"
    p.write_bytes(labels_raw)
    assert len(read_idx_labels(p)) == 10000


def test_verify_detects_a_changed_file(tmp_path, mnist_dir, labels_raw):
    for name in data.RAW_MD5:
        shutil.copy(mnist_dir / name, tmp_path / name)
    raw = bytearray(labels_raw)
    raw[100] = (raw[100] + 1) % 10
    _write(tmp_path / "t10k-labels-idx1-ubyte.gz", bytes(raw))
    with pytest.raises(DataError, match="checksum mismatch"):
        verify(tmp_path)


def test_recompressed_files_still_verify(tmp_path, mnist_dir, labels_raw):
    for name in data.RAW_MD5:
        shutil.copy(mnist_dir / name, tmp_path / name)
    with gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz", "wb", compresslevel=1) as fh:
        fh.write(labels_raw)
    assert verify(tmp_path)["t10k-labels-idx1-ubyte.gz"] == data.RAW_MD5["t10k-labels-idx1-ubyte.gz"]


def test_download_uses_verified_local_mirror(tmp_path, mnist_dir):
    target = tmp_path / "cache"
    folder = data.download(target, mirrors=(mnist_dir.as_uri() + "/",), log=lambda *_: None)
    assert folder == target
    assert verify(target)
    assert not list(target.glob("*.part"))


def test_download_refuses_a_bad_mirror(tmp_path, mnist_dir):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in data.RAW_MD5:
        shutil.copy(mnist_dir / name, mirror / name)
    _write(mirror / "t10k-labels-idx1-ubyte.gz", b"\x00\x00\x08\x01" + b"\x00" * 20)
    target = tmp_path / "cache"
    with pytest.raises(DataError, match="could not download"):
        data.download(target, mirrors=(mirror.as_uri() + "/",), log=lambda *_: None)
    assert not (target / "t10k-labels-idx1-ubyte.gz").exists()


def test_data_folder_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_dir(None) == tmp_path / "env"
    monkeypatch.delenv(data.DATA_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert resolve_data_dir(None) == tmp_path / "cache" / "latent-explorer" / "mnist"
