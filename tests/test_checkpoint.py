"""Checkpoints: ours round-trips; wrong files fail with one line naming the problem."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from meshpose_mobile.checkpoint import load_checkpoint, save_checkpoint
from meshpose_mobile.errors import CheckpointError
from meshpose_mobile.topology import Topology, default_topology


def _one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def test_round_trip(tiny_model, tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "m.pt", tiny_model, extra={"step": 3})
    loaded = load_checkpoint(path)
    assert loaded.config == tiny_model.config
    assert loaded.topology.hash == tiny_model.topology.hash
    x = torch.rand(1, 3, 64, 48) * 255
    with torch.no_grad():
        assert torch.equal(loaded(x)["vertices"], tiny_model(x)["vertices"])
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind


def test_variant_mismatch(tiny_model, tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "m.pt", tiny_model)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, variant="meshpose_xs")
    assert "holds meshpose_tiny, not meshpose_xs" in _one_line(err)


def test_topology_mismatch(tiny_model, tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "m.pt", tiny_model)
    other = Topology.minimal(615, "someone-else")
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, topology=other)
    assert "topology" in _one_line(err)
    assert load_checkpoint(path, topology=default_topology()).config.variant == "meshpose_tiny"


def test_missing(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path / "nope.pt")
    assert "not found" in _one_line(err)


def test_truncated(tiny_model, tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "m.pt", tiny_model)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert "truncated" in _one_line(err)


def test_garbage_and_foreign(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="truncated or not a PyTorch"):
        load_checkpoint(junk)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(foreign)
    assert "neither" in _one_line(err)
    tensor = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), tensor)
    with pytest.raises(CheckpointError, match="not a checkpoint dict"):
        load_checkpoint(tensor)
