"""The authors' released files: the constants JSON, the main checkpoint and the upsampler.

Every value below is made up; the authors' constants are not part of this project.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from meshpose_mobile.checkpoint import load_checkpoint
from meshpose_mobile.errors import CheckpointError, ConfigError
from meshpose_mobile.registry import create_model
from meshpose_mobile.released import (
    NUM_CENTRE_VERTICES,
    NUM_SEAM_PAIRS,
    load_released_constants,
    load_released_upsampler,
    parse_released_constants,
    released_upsampler_layout,
    to_released_layout,
)
from meshpose_mobile.topology import Topology
from meshpose_mobile.upsampler import HighPolyUpsampler

KEYS_FILE = Path(__file__).parent / "data" / "official-checkpoint-keys.txt"


def made_up_constants(num_vertices: int = 518, seed: int = 0) -> dict:
    """Random seam pairs and centre (not the authors' values) in the documented schema."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(num_vertices, size=2 * NUM_SEAM_PAIRS, replace=False)
    return {
        "comment": "made-up values for tests",
        "seam_pairs": picks.reshape(-1, 2).tolist(),
        "centre": {
            "vertices": rng.choice(num_vertices, size=NUM_CENTRE_VERTICES, replace=False).tolist(),
            "weights": rng.uniform(0.5, 1.5, size=NUM_CENTRE_VERTICES).round(3).tolist(),
        },
    }


def write_constants(path: Path, data: dict | None = None) -> Path:
    path.write_text(json.dumps(data if data is not None else made_up_constants()))
    return path


def write_released_checkpoint(path: Path, model: torch.nn.Module) -> Path:
    torch.save(to_released_layout(model), path)
    return path


def _one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert "\n" not in msg, msg
    return msg


@pytest.fixture(scope="module")
def released_model():
    torch.manual_seed(0)
    return create_model("meshpose_hrnet32", Topology.minimal(518, "released-518")).eval()


@pytest.fixture(scope="module")
def released_file(tmp_path_factory, released_model) -> Path:
    return write_released_checkpoint(tmp_path_factory.mktemp("released") / "meshpose_hrnet32.pth", released_model)


# --- the constants JSON ------------------------------------------------------------------------


def test_constants_parse(tmp_path: Path) -> None:
    data = made_up_constants()
    c = load_released_constants(write_constants(tmp_path / "c.json", data))
    assert c.seam_pairs.shape == (22, 2) and c.seam_pairs.tolist() == data["seam_pairs"]
    vec = c.centre_vector(518)
    assert vec.shape == (518,) and np.count_nonzero(vec) == 16
    assert vec[data["centre"]["vertices"]].tolist() == data["centre"]["weights"]
    only_centre = parse_released_constants({"centre": data["centre"]})
    with pytest.raises(ConfigError, match="no 'seam_pairs'"):
        only_centre.require_seams()
    with pytest.raises(ConfigError, match="no 'centre'"):
        parse_released_constants({"seam_pairs": data["seam_pairs"]}).centre_vector(518)


def _edit(**changes) -> dict:
    data = made_up_constants()
    for key, value in changes.items():
        if key.startswith("centre_"):
            data["centre"][key.removeprefix("centre_")] = value
        else:
            data[key] = value
    return data


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ([1, 2], "top level must be an object"),
        (_edit(center={}), "unknown key(s) 'center'"),
        ({"comment": "x"}, "neither 'seam_pairs' nor 'centre'"),
        (_edit(seam_pairs=[[0, 1]] * 3), "has 3 pairs; the released model has 22"),
        (_edit(seam_pairs=[[0, 1, 2]] * 22), "list of [i, j] pairs"),
        (_edit(seam_pairs=[[2 * i, 2 * i + 1.5] for i in range(22)]), "integer vertex indices"),
        (_edit(seam_pairs=[[2 * i, 2 * i + 1] for i in range(21)] + [[42, 518]]), "index 518 is out of range 0..517"),
        (_edit(seam_pairs=[[2 * i, 2 * i + 1] for i in range(21)] + [[-1, 100]]), "index -1 is out of range"),
        (_edit(seam_pairs=[[2 * i, 2 * i + 1] for i in range(21)] + [[100, 100]]), "joins vertex 100 to itself"),
        (_edit(seam_pairs=[[2 * i, 2 * i + 1] for i in range(21)] + [[0, 100]]), "vertex 0 appears in more than one"),
        (_edit(centre={"vertices": list(range(16))}), "exactly 'vertices' and 'weights'"),
        (_edit(centre_vertices=list(range(15))), "15 vertices and 16 weights"),
        (_edit(centre_weights=[1.0] * 17), "16 vertices and 17 weights"),
        (_edit(centre_weights=[True] * 16), "finite numbers"),
        (_edit(centre_vertices=[*range(15), 600]), "centre.vertices index 600"),
        (_edit(centre_vertices=[*range(15), 3]), "lists a vertex twice"),
        (_edit(centre_weights=[1.0, -1.0] * 8), "sum to 0"),
    ],
)
def test_constants_errors(tmp_path: Path, data, needle: str) -> None:
    path = write_constants(tmp_path / "c.json", data)
    with pytest.raises(ConfigError) as err:
        load_released_constants(path)
    msg = _one_line(err)
    assert needle in msg and "docs/released-model.md" in msg


def test_constants_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_released_constants(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"seam_pairs": [[1, 2],,]}')
    with pytest.raises(ConfigError) as err:
        load_released_constants(bad)
    assert "not valid JSON (line 1" in _one_line(err)


# --- the main checkpoint -----------------------------------------------------------------------


def test_released_layout_matches_the_key_list(released_model) -> None:
    """What `to_released_layout` writes has exactly the names and shapes of the released file."""
    state = to_released_layout(released_model)["model"]["root"]
    expected = {}
    for line in KEYS_FILE.read_text().splitlines():
        name, shape = re.match(r"(\S+) \(([\d, ]*)\)", line).groups()
        expected[name] = tuple(int(s) for s in shape.replace(" ", "").split(",") if s)
    assert {k: tuple(v.shape) for k, v in state.items()} == expected


def test_import_with_constants(tmp_path: Path, released_file: Path, released_model) -> None:
    data = made_up_constants()
    model = load_checkpoint(released_file, released_constants=write_constants(tmp_path / "c.json", data))
    assert model.config.variant == "meshpose_hrnet32" and model.config.seam_average
    assert model.topology.seam_pairs.tolist() == data["seam_pairs"]
    ref = released_model.state_dict()
    assert all(torch.equal(v, ref[k]) for k, v in model.state_dict().items())
    plain = load_checkpoint(released_file)
    assert not plain.config.seam_average and plain.topology.seam_pairs is None
    # The authors' demo fills the crop outside the photo with (127.5, 0, 0) RGB; the import carries it.
    assert model.config.crop_border == plain.config.crop_border == (127.5, 0.0, 0.0)
    x = torch.rand(1, 3, 384, 288, generator=torch.Generator().manual_seed(0)) * 255
    with torch.no_grad():
        v, v_plain = model(x)["vertices"][0], plain(x)["vertices"][0]
    a, b = torch.as_tensor(data["seam_pairs"]).T
    assert torch.allclose(v[a], v[b]) and torch.allclose(v[a], (v_plain[a] + v_plain[b]) / 2, atol=1e-4)
    others = torch.ones(518, dtype=torch.bool)
    others[a] = others[b] = False
    assert torch.allclose(v[others], v_plain[others])


def test_released_crop_border_reproduces_the_demo(tmp_path: Path, released_file: Path) -> None:
    """A box at the photo's edge: the released model's crop reads (127.5, 0, 0) outside the photo,
    ours read 0, in the contract, in a re-saved checkpoint and in the sidecar fields."""
    from meshpose_mobile.checkpoint import save_checkpoint
    from meshpose_mobile.crop import CropContract
    from meshpose_mobile.seeded import seeded_model

    photo = np.full((200, 150, 3), 90, dtype=np.uint8)
    box = (-60.0, -40.0, 120.0, 200.0)  # the left part of the crop lies outside the photo
    released = load_checkpoint(released_file)
    crop, _ = CropContract.for_config(released.config).crop(photo, box)
    assert crop[0, 0].tolist() == [127.5, 0.0, 0.0] and crop[300, 280].tolist() == [90.0, 90.0, 90.0]
    ours = CropContract.for_config(seeded_model("meshpose_tiny").config)
    assert ours.crop(photo, box)[0][0, 0].tolist() == [0.0, 0.0, 0.0]
    saved = save_checkpoint(tmp_path / "released-as-ours.pt", released)
    assert load_checkpoint(saved).config.crop_border == (127.5, 0.0, 0.0)
    assert CropContract.for_config(released.config).to_dict()["border_value"] == [127.5, 0.0, 0.0]


def test_truncated_or_misplaced_released_files(tmp_path: Path, released_file: Path) -> None:
    cut = tmp_path / "cut.pth"
    cut.write_bytes(released_file.read_bytes()[:10_000_000])
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(cut)
    assert "truncated" in _one_line(err)
    up = tmp_path / "up.pth"
    torch.save(released_upsampler_layout(HighPolyUpsampler(518, 8, 20)), up)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(up)
    assert "is the released upsampler" in _one_line(err)
    with pytest.raises(CheckpointError) as err:
        load_released_upsampler(released_file, None)
    assert "main checkpoint, not its upsampler" in _one_line(err)
    with pytest.raises(ConfigError) as err:
        load_checkpoint(released_file, released_constants=tmp_path / "none.json")
    assert "not found" in _one_line(err)


def test_export_cli_rejects_constants_without_checkpoint(tmp_path: Path) -> None:
    from meshpose_export.cli.export_cli import main

    path = write_constants(tmp_path / "c.json")
    result = CliRunner().invoke(main, ["--released-constants", str(path), "--target", "onnx", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert (
        result.stderr.strip() == "error: --released-constants applies to the authors' checkpoint; pass it with --ckpt"
    )


# --- the upsampler -----------------------------------------------------------------------------


def test_released_upsampler_full_size(tmp_path: Path) -> None:
    """The authors' upsampler file (518 -> 1723 -> 6890) loads with the user's centre weights."""
    data = made_up_constants()
    torch.manual_seed(0)
    centre = torch.zeros(518)
    centre[data["centre"]["vertices"]] = torch.tensor(data["centre"]["weights"])
    original = HighPolyUpsampler(518, 1723, 6890, centre, normalize_centre=False).eval()
    path = tmp_path / "upsampler.pth"
    torch.save(released_upsampler_layout(original), path)
    layout = torch.load(path, weights_only=True)["model"]["VERTEX_UPSAMPLE"]
    assert {k: tuple(v.shape) for k, v in layout.items()} == {
        "upsampling.weight": (1723, 518),
        "upsampling.bias": (1723,),
        "upsampling2.weight": (6890, 1723),
        "upsampling2.bias": (6890,),
    }
    loaded = load_released_upsampler(path, write_constants(tmp_path / "c.json", data))
    assert (loaded.num_low, loaded.upsampling.out_features, loaded.upsampling2.out_features) == (518, 1723, 6890)
    low = torch.randn(2, 518, 3) * 100
    with torch.no_grad():
        assert torch.allclose(loaded(low), original(low), atol=1e-3)
    with pytest.raises(ConfigError) as err:
        load_released_upsampler(path, None)
    assert "centre weights" in _one_line(err)


def test_released_upsampler_bad_files(tmp_path: Path) -> None:
    path = tmp_path / "up.pth"
    layout = released_upsampler_layout(HighPolyUpsampler(518, 8, 20))
    del layout["model"]["VERTEX_UPSAMPLE"]["upsampling2.bias"]
    torch.save(layout, path)
    with pytest.raises(CheckpointError, match=r"missing upsampling2\.bias"):
        load_released_upsampler(path, made_up_constants_obj())
    torch.save({"state_dict": {}}, path)
    with pytest.raises(CheckpointError, match="not the released upsampler layout"):
        load_released_upsampler(path, made_up_constants_obj())
    path.write_bytes(b"\x80\x02garbage")
    with pytest.raises(CheckpointError, match="truncated"):
        load_released_upsampler(path, made_up_constants_obj())


def test_released_upsampler_centre_weights_used_as_given(tmp_path: Path) -> None:
    """The authors' 16 centre weights do not sum to 1 and their code uses them as they are; the
    import must too (normalising moved high-poly vertices by up to 0.14 crop px). Checked against
    the formula computed here in float64 from the file's own tensors."""
    data = made_up_constants(seed=3)
    data["centre"]["weights"] = [0.3 + 0.1 * i for i in range(NUM_CENTRE_VERTICES)]  # sum 16.8
    assert abs(sum(data["centre"]["weights"]) - 1.0) > 1.0
    torch.manual_seed(1)
    path = tmp_path / "upsampler.pth"
    torch.save(released_upsampler_layout(HighPolyUpsampler(518, 40, 90)), path)
    loaded = load_released_upsampler(path, write_constants(tmp_path / "c.json", data))
    state = {k: v.double().numpy() for k, v in torch.load(path, weights_only=True)["model"]["VERTEX_UPSAMPLE"].items()}
    low = np.random.default_rng(0).normal(150.0, 60.0, size=(518, 3))
    weights = np.zeros(518)
    weights[data["centre"]["vertices"]] = data["centre"]["weights"]
    centre = (weights[:, None] * low).sum(0)  # raw weights: no division by their sum
    # Both maps act on the vertex axis, the same for x, y and z.
    mid = state["upsampling.weight"] @ (low - centre) + state["upsampling.bias"][:, None]
    high = state["upsampling2.weight"] @ mid + state["upsampling2.bias"][:, None] + centre
    with torch.no_grad():
        ours = loaded(torch.from_numpy(low).float()[None])[0].double().numpy()
    assert np.abs(ours - high).max() < 1e-2  # float32 rounding at coordinates of a few thousand
    # Normalising would be far off: the centre moves by (1 - 1/16.8) of itself.
    normalised = HighPolyUpsampler(518, 40, 90, torch.from_numpy(weights).float())
    normalised.load_state_dict({**loaded.state_dict(), "centre_weights": normalised.centre_weights})
    with torch.no_grad():
        other = normalised(torch.from_numpy(low).float()[None])[0].double().numpy()
    assert np.abs(other - high).max() > 1.0
    # Our own upsamplers still centre on a weighted mean (weights normalised to sum 1).
    assert float(normalised.centre_weights.sum()) == pytest.approx(1.0)


def made_up_constants_obj():
    return parse_released_constants(made_up_constants())
