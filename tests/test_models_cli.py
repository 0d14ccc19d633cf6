"""Third-party models found the same way from a checkout and from a pip install: `meshpose-models
fetch` / `list`, `paths.find_model_file`, and the one-line errors that name the fetch command.

The mediapipe wheel used here is the one `make setup` downloaded into benchmarks/peers/wheels/
(nothing is downloaded by the tests)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from meshpose_mobile import paths
from meshpose_mobile.models_cli import models_main
from meshpose_mobile.paths import MODEL_FILES, ModelNotFoundError, find_model_file, model_search_paths

ROOT = Path(__file__).resolve().parents[1]
WHEELS = ROOT / "benchmarks" / "peers" / "wheels"
DETECTOR, BLAZEPOSE = "pose_detection.tflite", "pose_landmark_full.tflite"


@pytest.fixture(scope="module")
def mediapipe_wheel() -> Path:
    wheels = sorted(WHEELS.glob("mediapipe-0.10.21-*.whl"))
    assert wheels, f"no mediapipe 0.10.21 wheel in {WHEELS}: run make setup"
    return wheels[0]


@pytest.fixture
def no_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Empty $MESHPOSE_MODELS and user cache, and no checkout: as a fresh pip install sees it."""
    models = tmp_path / "models"
    monkeypatch.setenv("MESHPOSE_MODELS", str(models))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("MESHPOSE_DETECTOR", raising=False)
    monkeypatch.setattr(paths, "checkout_root", lambda: None)
    return models


def _one_error_line(result) -> str:
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$MESHPOSE_MODELS, then the user cache, then the checkout."""
    monkeypatch.delenv("MESHPOSE_MODELS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cache = tmp_path / "cache" / "meshpose_mobile" / "models"
    assert paths.models_dir() == cache
    assert find_model_file(DETECTOR) == ROOT / "models" / DETECTOR  # this checkout's make setup copy
    assert find_model_file(BLAZEPOSE) == ROOT / "benchmarks" / "peers" / BLAZEPOSE
    cache.mkdir(parents=True)
    (cache / DETECTOR).write_bytes(b"cached")
    assert find_model_file(DETECTOR) == cache / DETECTOR
    env = tmp_path / "env"
    monkeypatch.setenv("MESHPOSE_MODELS", str(env))
    assert paths.models_dir() == env
    assert model_search_paths(DETECTOR) == [env / DETECTOR, cache / DETECTOR, ROOT / "models" / DETECTOR]
    env.mkdir()
    (env / DETECTOR).write_bytes(b"env")
    assert find_model_file(DETECTOR) == env / DETECTOR
    # A relative $XDG_CACHE_HOME is invalid (XDG spec): ~/.cache is used.
    monkeypatch.setenv("XDG_CACHE_HOME", "relative")
    assert paths.user_cache_models_dir() == Path.home() / ".cache" / "meshpose_mobile" / "models"


def test_missing_model_names_the_fetch_command(no_models: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        find_model_file(DETECTOR)
    msg = str(info.value)
    assert "\n" not in msg and "`meshpose-models fetch`" in msg and str(no_models / DETECTOR) in msg
    assert "make setup" not in msg  # a pip install has no Makefile
    monkeypatch.setattr(paths, "checkout_root", lambda: ROOT)
    moved = dataclasses.replace(MODEL_FILES[DETECTOR], checkout_path="nowhere/x")
    monkeypatch.setattr(paths, "MODEL_FILES", {DETECTOR: moved})
    with pytest.raises(ModelNotFoundError) as info:
        find_model_file(DETECTOR)
    msg = str(info.value)
    assert "`meshpose-models fetch`" in msg and "`make setup`" in msg and str(ROOT / "nowhere" / "x") in msg


def test_fetch_from_a_wheel_and_list(no_models: Path, mediapipe_wheel: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(models_main, ["list"])
    assert listed.exit_code != 0 and listed.stdout.count("missing") == 2 and "meshpose-models fetch" in listed.stderr
    result = runner.invoke(models_main, ["fetch", "--wheel", str(mediapipe_wheel)])
    assert result.exit_code == 0, result.output
    for m in MODEL_FILES.values():
        data = (no_models / m.name).read_bytes()
        assert len(data) == m.size and hashlib.sha256(data).hexdigest() == m.sha256
        assert find_model_file(m.name) == no_models / m.name
    assert sorted(p.name for p in no_models.iterdir()) == sorted(MODEL_FILES)  # no temp files left
    listed = runner.invoke(models_main, ["list"])
    assert listed.exit_code == 0 and "missing" not in listed.stdout and str(no_models) in listed.stdout
    # A second fetch needs no wheel; a damaged copy is written again.
    again = runner.invoke(models_main, ["fetch", "--wheel", str(mediapipe_wheel)])
    assert again.exit_code == 0 and again.stdout.count("already in") == 2
    (no_models / DETECTOR).write_bytes(b"damaged")
    again = runner.invoke(models_main, ["fetch", "--wheel", str(mediapipe_wheel)])
    assert again.exit_code == 0 and f"{DETECTOR}: wrote" in again.stdout
    assert hashlib.sha256((no_models / DETECTOR).read_bytes()).hexdigest() == MODEL_FILES[DETECTOR].sha256


def test_fetch_refuses_wrong_wheels_and_writes_nothing(no_models: Path, tmp_path: Path, mediapipe_wheel: Path) -> None:
    runner = CliRunner()
    not_zip = tmp_path / "mediapipe-0.10.21-x.whl"
    not_zip.write_bytes(b"not a zip")
    empty = tmp_path / "empty.whl"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("mediapipe/__init__.py", "")
    other = tmp_path / "other.whl"  # right names, other bytes: another mediapipe version
    with zipfile.ZipFile(other, "w") as zf:
        for m in MODEL_FILES.values():
            zf.writestr(m.wheel_member, b"other model")
    with zipfile.ZipFile(mediapipe_wheel) as src, zipfile.ZipFile(half := tmp_path / "half.whl", "w") as zf:
        # The first model is right and the second wrong: neither is written.
        first, second = MODEL_FILES.values()
        zf.writestr(first.wheel_member, src.read(first.wheel_member))
        zf.writestr(second.wheel_member, b"other model")
    truncated = tmp_path / "truncated.whl"  # a download cut short
    truncated.write_bytes(mediapipe_wheel.read_bytes()[: 20 << 20])
    for wheel, expect in [
        (tmp_path / "none.whl", "is not a file"),
        (truncated, "is not a readable wheel"),
        (tmp_path, "is not a file"),
        (not_zip, "is not a readable wheel"),
        (empty, "has no mediapipe/modules/"),
        (other, "SHA-256 differs"),
        (half, "SHA-256 differs"),
    ]:
        line = _one_error_line(runner.invoke(models_main, ["fetch", "--wheel", str(wheel)]))
        assert expect in line and "mediapipe" in line and "0.10.21" in line, line
        assert not no_models.exists()  # not even the folder it would have created


def test_fetch_names_the_fix_when_pip_fails(no_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pip cannot reach an index: one line with pip's reason and --wheel as the offline way."""
    from meshpose_mobile import models_cli

    (tmp_path / "no-index").mkdir()
    offline = [*models_cli.PIP_DOWNLOAD, "--no-index", "--find-links", str(tmp_path / "no-index")]
    monkeypatch.setattr(models_cli, "PIP_DOWNLOAD", offline)
    line = _one_error_line(CliRunner().invoke(models_main, ["fetch"]))
    assert "pip could not download mediapipe==0.10.21" in line and "--wheel PATH" in line
    assert not no_models.exists()
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("meshpose-models-*/mediapipe*"))


def test_predict_without_box_names_the_fetch_command(no_models: Path, tmp_path: Path, tiny_model) -> None:
    from meshpose_export.cli.predict_cli import main as predict_main
    from meshpose_mobile.checkpoint import save_checkpoint

    ckpt = save_checkpoint(tmp_path / "tiny.pt", tiny_model)
    photo = tmp_path / "p.png"
    Image.new("RGB", (64, 80)).save(photo)
    out = tmp_path / "out"
    line = _one_error_line(CliRunner().invoke(predict_main, [str(photo), "--model", str(ckpt), "--out", str(out)]))
    assert "person detector" in line and "`meshpose-models fetch`" in line and "--box" in line
    assert not out.exists()


def test_bench_peer_missing_names_the_fetch_command(no_models: Path) -> None:
    from meshpose_export.runtime.peer import find_peer, missing_peer

    assert find_peer() is None
    assert "`meshpose-models fetch`" in missing_peer() and str(no_models / BLAZEPOSE) in missing_peer()
    assert "`meshpose-models fetch`" in missing_peer(no_models / "elsewhere")


# --- from an installed wheel, in another folder --------------------------------------------------


def _build_wheel(dest: Path) -> Path:
    """This project's wheel, built from a copy of its sources (the shared checkout stays untouched)."""
    src = dest / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("meshpose_mobile", "export"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "NOTICE"):
        shutil.copy2(ROOT / name, src / name)
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(src), "-w", str(dest)]
    subprocess.run(cmd, check=True, capture_output=True, cwd=dest)
    (wheel,) = dest.glob("meshpose_mobile-*.whl")
    return wheel


def test_installed_wheel_fetch_then_predict_without_box(tmp_path: Path, mediapipe_wheel: Path, tiny_model) -> None:
    """A pip user's path: install this project's wheel into a fresh venv, run from another folder:
    predict without --box fails naming `meshpose-models fetch`; after the fetch it finds the detector.
    The venv reuses this environment's dependencies through a path entry (no download, no second torch);
    the package itself comes from the wheel only. About 8 s here, so not marked slow."""
    from meshpose_mobile.checkpoint import save_checkpoint
    from meshpose_mobile.samples import SAMPLE_PHOTOS

    wheel = _build_wheel(tmp_path / "dist")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "meshpose_mobile/models_cli.py" in names and any(n.endswith(".dist-info/licenses/NOTICE") for n in names)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    deps = next(p for p in sys.path if p.endswith("site-packages") and Path(p, "torch").is_dir())
    # A plain path line: the dependencies' folder is on sys.path but its .pth files (this checkout's
    # editable install among them) are not run.
    (site / "zz_deps.pth").write_text(deps + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q", "--no-deps"]
    subprocess.run([*pip, "--no-index", str(wheel)], check=True, capture_output=True)

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("MESHPOSE_DETECTOR", "PYTHONPATH")}
    env |= {"MESHPOSE_MODELS": str(tmp_path / "models"), "XDG_CACHE_HOME": str(tmp_path / "cache")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(venv / "bin" / args[0]), *args[1:]], cwd=work, env=env, capture_output=True, text=True
        )

    where = run("python", "-c", "import meshpose_mobile, meshpose_export; print(meshpose_mobile.__file__)")
    assert where.returncode == 0 and where.stdout.strip().startswith(str(site)), where.stdout + where.stderr

    ckpt = save_checkpoint(tmp_path / "tiny.pt", tiny_model)
    photo = work / "astronaut.png"
    Image.fromarray(SAMPLE_PHOTOS[0].load()).save(photo)
    predict = ("meshpose-predict", str(photo), "--model", str(ckpt), "--out", "out", "--no-overlay")
    before = run(*predict)
    lines = [ln for ln in before.stderr.splitlines() if ln.strip()]
    assert before.returncode != 0 and len(lines) == 1 and "Traceback" not in before.stderr, before.stderr
    assert "`meshpose-models fetch`" in lines[0] and "make setup" not in lines[0], lines[0]

    fetched = run("meshpose-models", "fetch", "--wheel", str(mediapipe_wheel))
    assert fetched.returncode == 0, fetched.stderr
    listed = run("meshpose-models", "list")
    assert listed.returncode == 0 and listed.stdout.count(str(tmp_path / "models")) == 3, listed.stdout

    after = run(*predict)
    assert after.returncode == 0, after.stderr
    doc = json.loads((work / "out" / "astronaut.json").read_text())
    assert doc["num_people"] >= 1 and doc["people"][0]["box_source"] == "detector"
