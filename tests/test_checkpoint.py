"""Checkpoint round trip, atomic saving, and refusal of damaged, foreign and code-carrying files."""
import os
import pickle
import re
import subprocess
import sys
import zipfile

import pytest
import torch

from latent_explorer.models.checkpoint import (CheckpointError, FORMAT_VERSION, load_checkpoint, read_payload, save_checkpoint,
                               save_payload)
from latent_explorer.models.networks import GanConfig, Generator
from tests.conftest import make_generator


def test_round_trip_keeps_weights_config_and_meta(tmp_path):
    path = make_generator(tmp_path / "g.pt", 3, conditional=True, seed=4)
    ck = load_checkpoint(path)
    assert ck.kind == "cgan" and ck.config["latent_dim"] == 3 and ck.meta["seed"] == 4
    assert not ck.model.training
    again = tmp_path / "again.pt"
    digest = save_checkpoint(again, ck.kind, ck.config, ck.model, ck.meta)
    ck2 = load_checkpoint(again)
    assert digest == ck.digest == ck2.digest
    z, y = torch.rand(4, 3) * 2 - 1, torch.tensor([0, 3, 5, 9])
    with torch.no_grad():
        assert torch.equal(ck.model(z, y), ck2.model(z, y))
    assert all(v.dtype == torch.float32 for v in ck2.model.state_dict().values() if v.is_floating_point())


def test_saving_is_atomic_and_leaves_no_temporary_files(tmp_path):
    path = make_generator(tmp_path / "g.pt")
    before = path.read_bytes()

    class Boom(Exception):
        pass

    class Exploding:
        def __reduce__(self):
            raise Boom("fails half way")

    with pytest.raises(Exception):
        save_payload(path, {"format": "latent-explorer", "bad": Exploding()})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.pt"]


def test_save_to_missing_folder_is_a_clear_error(tmp_path):
    g = Generator(GanConfig(2))
    with pytest.raises(OSError, match="does not exist"):
        save_checkpoint(tmp_path / "nope" / "g.pt", "gan", GanConfig(2).to_dict(), g)


class Payload:
    """Running this pickle would create a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_code_carrying_torch_file_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"format": "latent-explorer", "format_version": 1, "x": Payload(marker)}, path)
    with pytest.raises(CheckpointError, match="refused.*code"):
        load_checkpoint(path)
    assert not marker.exists()


def test_code_carrying_plain_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(CheckpointError, match=str(path)):
        load_checkpoint(path)
    assert not marker.exists()


def test_the_cli_refuses_it_too(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"x": Payload(marker)}, path)
    r = subprocess.run([sys.executable, "-m", "app", "info", str(path)], capture_output=True, text=True)
    assert r.returncode == 1
    assert str(path) in r.stderr and "refused" in r.stderr
    assert not marker.exists()


def test_truncated_file(tmp_path):
    path = make_generator(tmp_path / "g.pt")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match=f"{path}: damaged"):
        load_checkpoint(path)


def test_flipped_bytes_in_the_archive(tmp_path):
    path = make_generator(tmp_path / "g.pt")
    data = bytearray(path.read_bytes())
    for i in range(200, len(data), 997):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=str(path)):
        load_checkpoint(path)


def test_foreign_torch_file(tmp_path):
    path = tmp_path / "foreign.pt"
    torch.save(Generator(GanConfig(2)).state_dict(), path)
    with pytest.raises(CheckpointError, match="not a latent-explorer checkpoint"):
        load_checkpoint(path)


def test_not_a_torch_file(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("hello")
    with pytest.raises(CheckpointError, match="damaged or not a checkpoint"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_wrong_version(tmp_path):
    path = make_generator(tmp_path / "g.pt")
    payload = read_payload(path)
    payload["format_version"] = FORMAT_VERSION + 1
    save_payload(path, payload)
    with pytest.raises(CheckpointError, match="version"):
        load_checkpoint(path)


def test_weights_that_do_not_match_the_config(tmp_path):
    path = make_generator(tmp_path / "g.pt", 2)
    payload = read_payload(path)
    payload["config"]["latent_dim"] = 3
    save_payload(path, payload)
    with pytest.raises(CheckpointError, match="do not match the config"):
        load_checkpoint(path)


def test_kind_and_config_must_agree(tmp_path):
    path = make_generator(tmp_path / "g.pt", 2)
    payload = read_payload(path)
    payload["kind"] = "cgan"
    save_payload(path, payload)
    with pytest.raises(CheckpointError, match="cannot build"):
        load_checkpoint(path)


def test_nan_weights_are_refused(tmp_path):
    path = make_generator(tmp_path / "g.pt", 2)
    payload = read_payload(path)
    payload["state_dict"]["dense.weight"][0, 0] = float("nan")
    save_payload(path, payload)
    with pytest.raises(CheckpointError, match="NaN"):
        load_checkpoint(path)


def test_expected_kind(tmp_path, classifier_path):
    with pytest.raises(CheckpointError, match="expected gan"):
        load_checkpoint(classifier_path, expect="gan")


def test_info_command(tmp_path):
    path = make_generator(tmp_path / "g.pt", 4)
    r = subprocess.run([sys.executable, "-m", "app", "info", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "1,126,720" in r.stdout and re.search(r"^kind +gan$", r.stdout, re.M)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04garbage")
    r = subprocess.run([sys.executable, "-m", "app", "info", str(bad)], capture_output=True, text=True)
    assert r.returncode == 1 and str(bad) in r.stderr and "Traceback" not in r.stderr
