"""Bad input to the real console scripts: one `error:` line naming the problem and the fix, the
documented exit code, no traceback, and nothing half-written in the output folder.

Every case runs the command in a fresh Python process (as a user's shell would), from a working
directory other than the repository. Classes (issue 11): output paths and disks, interrupted
runs (signals), silently accepted values, files the user points at (checkpoints, run state,
datasets, configs), images. Issue 20 adds standard output (a full disk, a closed pipe), sizes
past memory, thread counts past the cores, edited checkpoint configs and damaged dataset
metadata, photo outputs as a set, converter temp files and library noise.
The tiny model keeps each case to a few seconds.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
import pytest
import torch

CLIS = {
    "meshpose-train": "meshpose_mobile.train.cli:train_main",
    "meshpose-train-upsampler": "meshpose_mobile.train.cli:train_upsampler_main",
    "meshpose-synth": "meshpose_mobile.train.cli:synth_main",
    "meshpose-export": "meshpose_export.cli.export_cli:main",
    "meshpose-predict": "meshpose_export.cli.predict_cli:main",
    "meshpose-bench": "meshpose_export.cli.bench_cli:main",
    "meshpose-params": "meshpose_mobile.cli:params_main",
}
# A 3-step run of the tiny model on a handful of synthetic samples: seconds on one core.
QUICK_TRAIN = (
    "--batch-size", "2", "--set", "data.train_size=4", "--set", "data.val_size=2",
    "--set", "log_every=1", "--no-progress",
)  # fmt: skip


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def errors(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if ln.startswith("error:")]


def _command(cli: str, args: tuple[object, ...]) -> list[str]:
    module, func = CLIS[cli].split(":")
    code = f"import sys; sys.argv[0] = {cli!r}; from {module} import {func}; {func}()"
    return [sys.executable, "-c", code, *(str(a) for a in args)]


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1", **extra}


def run(cli: str, *args: object, cwd: Path, timeout: float = 300) -> Result:
    p = subprocess.run(_command(cli, args), capture_output=True, text=True, cwd=cwd, env=_env(), timeout=timeout)
    return Result(p.returncode, p.stdout, p.stderr)


def run_to(cli: str, *args: object, stdout: int | object, cwd: Path, timeout: float = 300) -> Result:
    """`run` with standard output sent to `stdout` (a file descriptor or an open file)."""
    p = subprocess.run(
        _command(cli, args), stdout=stdout, stderr=subprocess.PIPE, text=True, cwd=cwd, env=_env(), timeout=timeout
    )
    return Result(p.returncode, "", p.stderr)


def start(cli: str, *args: object, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        _command(cli, args), cwd=cwd, env=env or _env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(proc: subprocess.Popen, timeout: float = 120) -> Result:
    out, err = proc.communicate(timeout=timeout)
    return Result(proc.returncode, out, err)


def answered(res: Result, code: int, needle: str) -> str:
    """The contract: exit `code`, exactly one error line containing `needle`, no traceback."""
    text = res.stdout + res.stderr
    assert "Traceback" not in text, text
    assert res.returncode == code, (res.returncode, text)
    assert len(res.errors) == 1, text
    assert needle in res.errors[0], res.errors[0]
    return res.errors[0]


def listing(folder: Path) -> list[str]:
    """Every entry under `folder` (hidden ones included), relative, sorted; [] when it is absent."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def wait_for(condition, timeout: float = 120.0, what: str = "") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# --------------------------------------------------------------------------- shared fixtures


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """The working directory of every command: not the repository."""
    return tmp_path_factory.mktemp("cwd")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Model, run-state, upsampler and damaged files, written in-process once."""
    from meshpose_mobile.checkpoint import save_checkpoint
    from meshpose_mobile.seeded import seeded_model
    from meshpose_mobile.synth import SynthConfig, write_dataset
    from meshpose_mobile.train.loop import STATE_FORMAT
    from meshpose_mobile.upsampler import HighPolyUpsampler, save_upsampler

    d = tmp_path_factory.mktemp("files")
    model = seeded_model("meshpose_tiny", seed=0)
    out = {"model": save_checkpoint(d / "model.pt", model)}
    (d / "run" / "ckpt").mkdir(parents=True)
    state = {"format": STATE_FORMAT, "step": 1, "config": {}, "model": model.state_dict()}
    torch.save(state, d / "run" / "ckpt" / "last.pt")
    out["state"] = d / "run" / "ckpt" / "last.pt"
    out["upsampler"] = save_upsampler(d / "upsampler.pt", HighPolyUpsampler(615, 8, 20))
    torch.save(model, d / "pickled.pt")
    out["pickled"] = d / "pickled.pt"
    payload = torch.load(out["model"], weights_only=True)
    key = next(k for k, v in payload["state_dict"].items() if v.ndim == 4)
    payload["state_dict"][key] = torch.zeros(3, 3)
    torch.save(payload, d / "wrong_shape.pt")
    out["wrong_shape"] = d / "wrong_shape.pt"
    payload = torch.load(out["model"], weights_only=True)
    payload["state_dict"] = None
    torch.save(payload, d / "none_state.pt")
    out["none_state"] = d / "none_state.pt"
    (d / "cut.pt").write_bytes(out["model"].read_bytes()[:5000])
    out["cut"] = d / "cut.pt"
    # A meshpose-synth dataset in two shards at the tiny model's size; the second is then cut.
    ds = write_dataset(d / "ds", 8, SynthConfig(height=64, width=48), shard_size=4)
    out["good_dataset"] = shutil.copytree(ds, d / "good_ds")
    # Damage inside the data, the zip directory at the end intact: found only when read.
    flipped = shutil.copytree(ds, d / "flipped_ds") / "shard-00001.npz"
    data = bytearray(flipped.read_bytes())
    for i in range(len(data) // 4, len(data) // 2):
        data[i] ^= 0x5A
    flipped.write_bytes(bytes(data))
    out["flipped_dataset"] = flipped.parent
    shard = ds / "shard-00001.npz"
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 3])
    out["cut_dataset"] = ds
    for name, key, value in (
        ("bogus_variant", "variant", "meshpose_bogus"),
        ("bool_as_string", "seam_average", "maybe"),
        ("mean_strings", "mean", ["a", "b", "c"]),
        ("variant_number", "variant", 7),
    ):
        payload = torch.load(out["model"], weights_only=True)
        payload["config"][key] = value
        torch.save(payload, d / f"{name}.pt")
        out[name] = d / f"{name}.pt"
    return out


def _mount_tmpfs(path: Path, options: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    path.mkdir(parents=True, exist_ok=True)
    return (
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True).returncode == 0
    )


def _umount(path: Path) -> None:
    subprocess.run(["umount", str(path)], capture_output=True)


@pytest.fixture(scope="module")
def read_only(tmp_path_factory) -> Iterator[Path]:
    """A read-only folder: a read-only tmpfs as root (root ignores permissions), else mode 0555."""
    path = tmp_path_factory.mktemp("ro") / "mnt"
    if _mount_tmpfs(path, "ro,size=1m"):
        yield path
        _umount(path)
        return
    if os.geteuid() == 0:
        pytest.skip("root without mount: no read-only folder can be made here")
    path.mkdir()
    path.chmod(0o555)
    yield path
    path.chmod(0o755)


@pytest.fixture(scope="module")
def full_disk(tmp_path_factory) -> Iterator[Path]:
    """A real 64 KB file system (tmpfs), so 'disk full' is the kernel's ENOSPC, not a fake."""
    path = tmp_path_factory.mktemp("full") / "mnt"
    if not _mount_tmpfs(path, "size=64k"):
        pytest.skip("needs root to mount a tiny tmpfs; the in-process ENOSPC tests still run")
    yield path
    _umount(path)


# --------------------------------------------------------------------------- output paths and disks

TRAINERS = {
    "meshpose-train": ("--steps", "3", *QUICK_TRAIN),
    "meshpose-train-upsampler": ("--steps", "2", "--train-size", "2", "--val-size", "2", "--batch-size", "2"),
    "meshpose-synth": ("--count", "40", "--height", "64", "--width", "48", "--no-progress"),
}


@pytest.mark.parametrize("cli", list(TRAINERS))
def test_out_is_a_file(cli: str, work: Path, tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("keep me")
    res = run(cli, "--out", target, *TRAINERS[cli], cwd=work)
    answered(res, 2, "is a file, not a folder")
    assert target.read_text() == "keep me" and listing(tmp_path) == ["taken"]


@pytest.mark.parametrize("cli", list(TRAINERS))
def test_out_empty_string(cli: str, work: Path) -> None:
    before = listing(work)
    answered(run(cli, "--out", "", *TRAINERS[cli], cwd=work), 2, "--out is empty")
    assert listing(work) == before


@pytest.mark.parametrize("cli", list(TRAINERS))
def test_out_read_only(cli: str, work: Path, read_only: Path) -> None:
    res = run(cli, "--out", read_only / "run", *TRAINERS[cli], cwd=work)
    answered(res, 2, "cannot be written")
    assert listing(read_only) == []


@pytest.mark.parametrize("cli", list(TRAINERS))
def test_out_disk_full(cli: str, work: Path, full_disk: Path) -> None:
    res = run(cli, "--out", full_disk / "run", *TRAINERS[cli], cwd=work)
    line = answered(res, 2, "")
    assert ("MB free" in line or "the disk is full" in line) and "another --out" in line, line
    assert listing(full_disk) == []


def test_disk_fills_during_a_save(tmp_path: Path, monkeypatch) -> None:
    """ENOSPC in the middle of a checkpoint write (in-process, as torch.save's writer sees it):
    one line naming the file, the temp file removed, the previous file intact."""
    from meshpose_mobile import atomic
    from meshpose_mobile.paths import OutputError

    target = tmp_path / "model.pt"
    atomic.torch_save_atomic({"a": torch.zeros(4)}, target)
    before = target.read_bytes()

    class FullDisk:
        def __init__(self, fh) -> None:
            self.fh = fh

        def write(self, data) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.fh, name)

    real = atomic.atomic_open

    def full_open(path):
        cm = real(path)

        class Wrapped:
            def __enter__(self):
                return FullDisk(cm.__enter__())

            def __exit__(self, *exc):
                return cm.__exit__(*exc)

        return Wrapped()

    monkeypatch.setattr(atomic, "atomic_open", full_open)
    with pytest.raises(OutputError, match=r"cannot write .*model\.pt \(the disk is full\)"):
        atomic.torch_save_atomic({"a": torch.zeros(1000)}, target)
    assert target.read_bytes() == before and listing(tmp_path) == ["model.pt"]


# --------------------------------------------------------------------------- values accepted silently before


def _toml(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--set", "optim.milestones=0.5"), "optim.milestones=0.5"),
        (("--set", "optim.milestones=[0.9, 0.5]"), "increasing fractions"),
        (("--set", 'optim.milestones="ab"'), "optim.milestones"),
        (("--set", "optim.lr=nan"), "optim.lr"),
        (("--steps", "0"), "steps=0"),
        (("--set", "data.train_size=-3"), "data.train_size=-3"),
        (("--batch-size", "100000"), "batch_size 100000 is more than the 4 training samples"),
    ],
    ids=[
        "milestones-scalar", "milestones-decreasing", "milestones-string", "lr-nan", "steps-0", "train-size-neg",
        "batch-past-data",
    ],
)  # fmt: skip
def test_train_values(args: tuple[str, ...], needle: str, work: Path, tmp_path: Path) -> None:
    answered(run("meshpose-train", "--out", tmp_path / "run", *QUICK_TRAIN, *args, cwd=work), 2, needle)
    assert listing(tmp_path) == []


MODEL_OVERRIDES = {
    "bool-as-string": ("model.seam_average=maybe", "model.seam_average='maybe' must be true or false"),
    "number-as-string": ('model.gain="x"', "model.gain='x' must be a finite number"),
    "int-as-float": ("model.num_bins=2.5", "model.num_bins=2.5 must be an integer"),
    "triple-of-strings": ('model.mean=["a", 1, 2]', "model.mean=['a', 1, 2] must be a list of three finite numbers"),
    "unknown-field": ("model.seam_avg=true", "unknown key model.seam_avg"),
}


@pytest.mark.parametrize("case", list(MODEL_OVERRIDES))
def test_model_overrides_typed(case: str, work: Path, tmp_path: Path) -> None:
    """--print-config shows only a config the run accepts: a model field given the wrong type is
    refused there, naming the field and its type, not later with a misleading message."""
    assignment, needle = MODEL_OVERRIDES[case]
    for extra in (("--print-config",), QUICK_TRAIN):
        res = run("meshpose-train", "--out", tmp_path / "run", "--set", assignment, *extra, cwd=work)
        answered(res, 2, needle)
    assert listing(tmp_path) == []


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "not UTF-8"),
        ("steps = 1979-05-27\n", "steps is a TOML date"),
        ("[optim]\nlr = 1e-3\nwhen = 07:32:00\n", "optim.when is a TOML time"),
        ("steps = [\n", "does not parse"),
    ],
    ids=["binary", "date", "time", "syntax"],
)
def test_train_config_files(content: str | bytes, needle: str, work: Path, tmp_path: Path) -> None:
    cfg = _toml(tmp_path / "c.toml", content)
    answered(run("meshpose-train", "--config", cfg, "--out", tmp_path / "run", *QUICK_TRAIN, cwd=work), 2, needle)
    assert listing(tmp_path) == ["c.toml"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--bench", "--count", "0"), "--count 0"),
        (("--count", "-3", "--out", "ds"), "--count -3"),
        (("--count", "2", "--out", "ds", "--set", "selfie_fraction=2"), "selfie_fraction"),
        (("--height", "100000", "--width", "100000", "--count", "1", "--out", "ds"), "larger than 4096 px a side"),
        (("--height", "100000", "--width", "100000", "--bench", "--count", "1"), "larger than 4096 px a side"),
        (("--count", "1", "--out", "ds", "--set", "height=100000"), "larger than 4096 px a side"),
        (("--count", "1", "--out", "ds", "--seed", "-1"), "--seed -1 must be >= 0"),
        (("--count", "1", "--out", "ds", "--set", "num_points=1000000000"), "num_points=1000000000 is more than"),
    ],
    ids=["bench-count-0", "count-negative", "bad-field", "huge", "huge-bench", "huge-set", "seed-neg", "points-huge"],
)
def test_synth_values(args: tuple[str, ...], needle: str, work: Path) -> None:
    before = listing(work)
    answered(run("meshpose-synth", *args, cwd=work), 2, needle)
    assert listing(work) == before


def test_synth_memory_checked_before_allocating(monkeypatch) -> None:
    """Sizes under the cap can still exceed this machine's memory: refused from the estimate
    before any array exists (the estimate's numbers are measured, see synth.MAX_SIDE)."""
    from meshpose_mobile import synth
    from meshpose_mobile.errors import ConfigError

    monkeypatch.setattr(synth, "available_memory", lambda: 2_000_000_000)
    config = synth.SynthConfig(height=4096, width=4096)
    with pytest.raises(ConfigError, match=r"4096x4096 images need about 8\d\.\d GB .* but 2\.0 GB is available"):
        synth.write_dataset("/nonexistent/ds", 1000, config)
    with pytest.raises(ConfigError, match="smaller --height/--width"):
        synth.SyntheticBodies(config).throughput(1)
    small = synth.SynthConfig(height=64, width=48)
    assert synth.memory_needed(small, 256) < 100_000_000  # the tests' sizes pass on any machine
    assert synth.memory_needed(synth.SynthConfig(), 256) < 1_000_000_000  # the default 384x288


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--steps", "0"), "steps=0"),
        (("--noise", "nan"), "noise=nan"),
        (("--seed", "-1"), "seed=-1 must be an integer >= 0"),
        (("--train-size", "100000000"), "GB of memory but"),  # ~33 TB: refused on any machine
    ],
    ids=["steps-0", "noise-nan", "seed-neg", "pairs-past-memory"],
)
def test_upsampler_values(args: tuple[str, ...], needle: str, work: Path, tmp_path: Path) -> None:
    answered(run("meshpose-train-upsampler", "--out", tmp_path / "up", *args, cwd=work), 2, needle)
    assert listing(tmp_path) == []


# --------------------------------------------------------------------------- files the user points at

INIT_CASES = {
    "missing": ("missing.pt", "--init file not found"),
    "state": ("state", "training state (for --resume)"),
    "upsampler": ("upsampler", "is an upsampler"),
    "pickled": ("pickled", "pickled Python objects"),
    "wrong_shape": ("wrong_shape", "has shape (3, 3)"),
    "none_state": ("none_state", "has no weights"),
    "cut": ("cut", "truncated"),
}


@pytest.mark.parametrize("case", list(INIT_CASES))
def test_train_init_files(case: str, files: dict[str, Path], work: Path, tmp_path: Path) -> None:
    name, needle = INIT_CASES[case]
    init = files.get(name, tmp_path / name)
    line = answered(run("meshpose-train", "--init", init, "--out", tmp_path / "run", *QUICK_TRAIN, cwd=work), 2, needle)
    assert "--ckpt" not in line
    if case == "state":
        assert str(files["state"].parent.parent / "model.pt") in line  # says which file to use
    assert listing(tmp_path) == []


# The same loader as --init (whose cases above cover every kind of file); here: the flag is named
# --ckpt and the message says which file to pass instead.
CKPT_CASES = {
    "state": ("state", "pass the run's weights"),
    "upsampler": ("upsampler", "pass it as --upsampler"),
}


@pytest.mark.parametrize("case", list(CKPT_CASES))
def test_export_ckpt_files(case: str, files: dict[str, Path], work: Path, tmp_path: Path) -> None:
    name, needle = CKPT_CASES[case]
    res = run("meshpose-export", "--ckpt", files[name], "--target", "onnx", "--out", tmp_path / "out", cwd=work)
    answered(res, 2, needle)
    assert listing(tmp_path) == []


# A checkpoint whose config was edited: refused when it is loaded (before anything is exported
# or predicted), never written into a sidecar.
EDITED_CONFIG_CASES = {
    "bogus_variant": "names variant 'meshpose_bogus', which this toolkit does not have",
    "variant_number": "variant=7 must be a non-empty string",
    "bool_as_string": "seam_average='maybe' must be true or false",
    "mean_strings": "mean=('a', 'b', 'c') must be a list of three finite numbers",
}


@pytest.mark.parametrize("case", list(EDITED_CONFIG_CASES))
def test_checkpoint_with_edited_config(case: str, files: dict[str, Path], work: Path, tmp_path: Path) -> None:
    needle = EDITED_CONFIG_CASES[case]
    res = run("meshpose-export", "--ckpt", files[case], "--target", "onnx", "--out", tmp_path / "out", cwd=work)
    answered(res, 2, needle)
    from PIL import Image

    Image.new("RGB", (48, 64), (90, 90, 90)).save(tmp_path / "p.png")
    res = run("meshpose-predict", "p.png", "--model", files[case], "--whole-image", "--out", "pred", cwd=tmp_path)
    answered(res, 2, needle)
    assert listing(tmp_path) == ["p.png"]


def test_predict_model_and_upsampler_swapped(files: dict[str, Path], work: Path, tmp_path: Path) -> None:
    photo = tmp_path / "p.png"
    from PIL import Image

    Image.new("RGB", (48, 64), (90, 90, 90)).save(photo)
    out = tmp_path / "pred"
    res = run("meshpose-predict", photo, "--model", files["upsampler"], "--out", out, cwd=work)
    answered(res, 2, "pass it as --upsampler")
    res = run(
        "meshpose-predict", photo, "--model", files["model"], "--upsampler", files["model"], "--out", out, cwd=work
    )
    answered(res, 2, "--upsampler")
    res = run(
        "meshpose-predict", photo, "--model", files["model"], "--upsampler", tmp_path / "no.pt", "--out", out, cwd=work
    )
    answered(res, 2, "--upsampler file not found")
    assert listing(out) == []


@pytest.fixture(scope="module")
def finished_run(work: Path, tmp_path_factory) -> Path:
    """A 3-step run (model.pt, metrics.jsonl, ckpt/last.pt) made by the real command."""
    run_dir = tmp_path_factory.mktemp("runs") / "run"
    res = run("meshpose-train", "--out", run_dir, "--steps", "3", *QUICK_TRAIN, cwd=work)
    assert res.returncode == 0, res.stderr
    return run_dir


def _copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_resume_truncated_state(finished_run: Path, work: Path, tmp_path: Path) -> None:
    run_dir = _copy_run(finished_run, tmp_path / "run")
    last = run_dir / "ckpt" / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])
    before = listing(run_dir)
    line = answered(run("meshpose-train", "--out", run_dir, "--resume", "--steps", "5", *QUICK_TRAIN, cwd=work), 2, "")
    assert "truncated or damaged" in line and f"--init {run_dir / 'model.pt'}" in line
    assert listing(run_dir) == before


def test_resume_truncated_metrics(finished_run: Path, work: Path, tmp_path: Path) -> None:
    """A crash mid-append leaves a cut last line; the resume drops it (with a note) and goes on."""
    run_dir = _copy_run(finished_run, tmp_path / "run")
    metrics = run_dir / "metrics.jsonl"
    text = metrics.read_text()
    metrics.write_text(text + text.splitlines()[-1][:25])
    res = run("meshpose-train", "--out", run_dir, "--resume", "--steps", "4", *QUICK_TRAIN, cwd=work)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    assert "dropped 1 unreadable line" in res.stderr
    rows = [json.loads(ln) for ln in metrics.read_text().splitlines()]
    assert rows[-1]["step"] == 4
    assert not [p for p in listing(run_dir) if p.endswith(".tmp")]


def test_workers_past_cores_are_capped(work: Path, tmp_path: Path) -> None:
    from meshpose_mobile.machine import usable_cores

    res = run("meshpose-train", "--out", tmp_path / "run", "--steps", "1", "--workers", "64", *QUICK_TRAIN, cwd=work)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    assert (
        f"note: data.workers 64 is more than the {usable_cores()} CPU cores here; using {usable_cores()}" in res.stderr
    )
    assert "check_worker_number_rationality" not in res.stderr  # torch's own warning is not reached


def test_resume_without_run(work: Path, tmp_path: Path) -> None:
    answered(run("meshpose-train", "--out", tmp_path / "none", "--resume", *QUICK_TRAIN, cwd=work), 2, "--resume")
    assert listing(tmp_path) == []


@pytest.mark.parametrize("workers", [0, 1])
@pytest.mark.parametrize("damage", ["cut", "flipped"])
def test_damaged_shard(damage: str, workers: int, files: dict[str, Path], work: Path, tmp_path: Path) -> None:
    """cut: the zip directory is gone, found when the dataset opens, before any run file exists.
    flipped: bytes inside the data, found at the first training step (in a DataLoader worker
    with workers=1), before any checkpoint: the run removes what it wrote (config.json,
    metrics.jsonl, an untrained model-best.pt) and says to run again, not to --resume."""
    ds = files[f"{damage}_dataset"]
    run_dir = tmp_path / "run"
    res = run(
        "meshpose-train", "--out", run_dir, "--train-data", ds, "--steps", "20", "--workers", workers,
        "--batch-size", "4", "--set", "data.val_size=2", "--no-progress", cwd=work,
    )  # fmt: skip
    line = answered(res, 2, "shard-00001.npz is truncated or damaged")
    assert "regenerate the dataset" in line and "--resume" not in line
    if damage == "flipped":
        assert "eval step 0" in res.stderr  # the run had started
        assert "run the same command again" in line
    assert listing(tmp_path) == []


DATASET_META_CASES = {
    "list": (lambda m: [m], "holds a JSON list, not the object meshpose-synth writes"),
    "no-config": (lambda m: {k: v for k, v in m.items() if k != "config"}, "has no 'config' object"),
    "config-bad": (lambda m: {**m, "config": {**m["config"], "height": "tall"}}, "has an invalid config"),
    "shards-not-list": (lambda m: {**m, "shards": "shard-00000.npz"}, "lists no shards"),
    "shard-escapes": (
        lambda m: {**m, "shards": [{"file": "../model.pt", "count": 4}]},
        "shard entry without a plain file name",
    ),
    "count-string": (lambda m: {**m, "shards": [{"file": "shard-00000.npz", "count": "4"}]}, "count='4'"),
    "shard-not-npz": (lambda m: {**m, "shards": [{"file": "meta.json", "count": 4}]}, "meta.json is truncated"),
}


@pytest.mark.parametrize("case", list(DATASET_META_CASES))
def test_dataset_meta(case: str, files: dict[str, Path], work: Path, tmp_path: Path) -> None:
    edit, needle = DATASET_META_CASES[case]
    ds = shutil.copytree(files["good_dataset"], tmp_path / "ds")
    meta = json.loads((ds / "meta.json").read_text())
    (ds / "meta.json").write_text(json.dumps(edit(meta)))
    before = listing(tmp_path)
    res = run(
        "meshpose-train", "--out", tmp_path / "run", "--train-data", ds, "--steps", "2", "--batch-size", "2",
        "--set", "data.val_size=2", "--no-progress", cwd=work,
    )  # fmt: skip
    line = answered(res, 2, needle)
    assert "regenerate the dataset" in line
    assert listing(tmp_path) == before


# --------------------------------------------------------------------------- standard output

# Every command that prints to standard output, at its quickest.
STDOUT_COMMANDS = {
    "params": ("meshpose-params",),
    "synth-bench": ("meshpose-synth", "--bench", "--count", "2", "--height", "64", "--width", "48"),
    "train-print-config": ("meshpose-train", "--out", "run", "--print-config"),
    "export": (
        "meshpose-export",
        "--variant",
        "meshpose_tiny",
        "--target",
        "onnx",
        "--random-inputs",
        "0",
        "--out",
        "a",
    ),
    "predict": ("meshpose-predict", "p.png", "--whole-image", "--no-overlay", "--out", "pred"),
}


@pytest.mark.parametrize("sink", ["full", "closed-pipe"])
@pytest.mark.parametrize("case", list(STDOUT_COMMANDS))
def test_stdout_cannot_be_written(case: str, sink: str, files: dict[str, Path], tmp_path: Path) -> None:
    """`> /dev/full` (ENOSPC) and a pipe whose reader has gone (EPIPE): one line, exit 2, no
    traceback, no "Exception ignored" at the interpreter's exit; an export stops before it starts."""
    from PIL import Image

    Image.new("RGB", (48, 64), (90, 90, 90)).save(tmp_path / "p.png")
    cli, *args = STDOUT_COMMANDS[case]
    if cli == "meshpose-predict":
        args += ["--model", str(files["model"])]
    if sink == "full":
        if not Path("/dev/full").exists():
            pytest.skip("no /dev/full here")
        with open("/dev/full", "w") as full:
            res = run_to(cli, *args, stdout=full, cwd=tmp_path)
        why = "the disk is full"
    else:
        read, write = os.pipe()
        os.close(read)
        try:
            res = run_to(cli, *args, stdout=write, cwd=tmp_path)
        finally:
            os.close(write)
        why = "broken pipe"
    line = answered(res, 2, f"cannot write to standard output ({why}")
    assert "Exception ignored" not in res.stderr
    assert "redirect" in line
    if case == "export":
        assert listing(tmp_path) == ["p.png"]


# --------------------------------------------------------------------------- images


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory) -> Path:
    from PIL import Image

    d = tmp_path_factory.mktemp("photos")
    Image.new("RGB", (48, 64), (120, 80, 40)).save(d / "a_good.png")
    grey16 = (np.arange(64 * 48).reshape(64, 48) * 21).astype(np.uint16)
    Image.fromarray(grey16).save(d / "b_grey16.png")
    Image.fromarray(np.linspace(0, 1, 64 * 48, dtype=np.float32).reshape(64, 48), mode="F").save(d / "c_float.tif")
    # A decompression bomb: 20000 x 20000 (400 MP) in a few kB of PNG.
    Image.new("1", (20000, 20000)).save(d / "d_bomb.png")
    (d / "e_not_an_image.jpg").write_bytes(b"this is not a jpeg")
    return d


def test_images_by_real_range(photo_folder: Path) -> None:
    from meshpose_mobile.images import load_rgb

    grey = load_rgb(photo_folder / "b_grey16.png")
    assert grey.dtype == np.uint8 and grey.min() == 0 and 200 < grey.max() <= 255  # not clipped to white
    flt = load_rgb(photo_folder / "c_float.tif")
    assert flt.min() == 0 and flt.max() == 255  # not black


def test_folder_run_goes_past_bad_images(photo_folder: Path, files: dict[str, Path], work: Path, tmp_path: Path):
    out = tmp_path / "pred"
    res = run(
        "meshpose-predict", photo_folder, "--model", files["model"], "--out", out, "--no-overlay", "--whole-image",
        cwd=work,
    )  # fmt: skip
    line = answered(res, 2, "2 of 5 images failed")
    assert "d_bomb.png is 20000x20000 (400 MP)" in res.stderr and "e_not_an_image.jpg" in res.stderr
    assert "downscale it first" in res.stderr, line
    assert listing(out) == ["a_good.json", "b_grey16.json", "c_float.json"]


def test_single_bomb(photo_folder: Path, files: dict[str, Path], work: Path, tmp_path: Path) -> None:
    out = tmp_path / "pred"
    res = run(
        "meshpose-predict", photo_folder / "d_bomb.png", "--model", files["model"], "--out", out, "--whole-image",
        cwd=work,
    )  # fmt: skip
    answered(res, 2, "above the 179-megapixel limit")
    assert listing(out) == []


# --------------------------------------------------------------------------- signals


@pytest.mark.parametrize(
    ("sig", "code", "needle"), [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "Ctrl-C")]
)
def test_train_signal_saves_state(sig: int, code: int, needle: str, work: Path, tmp_path: Path) -> None:
    """Mid-run SIGTERM or SIGINT: state saved, one line, 143/130; --resume then finishes the run."""
    run_dir = tmp_path / "run"
    proc = start("meshpose-train", "--out", run_dir, "--steps", "100000", *QUICK_TRAIN, cwd=work)
    wait_for(lambda: (run_dir / "metrics.jsonl").exists() and "train" in (run_dir / "metrics.jsonl").read_text(),
             what="the first training step")  # fmt: skip
    proc.send_signal(sig)
    res = finish(proc)
    line = answered(res, code, needle)
    assert "state saved, continue with --resume" in line
    step = int(line.split("after step ")[1].split(";")[0])
    assert not [p for p in listing(run_dir) if p.endswith(".tmp")]
    state = torch.load(run_dir / "ckpt" / "last.pt", weights_only=True)
    assert state["step"] == step
    res = run("meshpose-train", "--out", run_dir, "--resume", "--steps", step + 1, *QUICK_TRAIN, cwd=work)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr


def test_synth_sigterm_and_sigkill(work: Path, tmp_path: Path) -> None:
    """SIGTERM: staging removed, exit 143. SIGKILL: the staging folder stays, and the next run
    sweeps it before writing."""
    out = tmp_path / "ds"
    args = ("--out", out, "--count", "100000", "--height", "64", "--width", "48", "--no-progress")

    def staging() -> list[str]:
        return [p for p in listing(tmp_path) if ".staging-" in p and "/" not in p]

    proc = start("meshpose-synth", *args, cwd=work)
    wait_for(lambda: bool(staging()), what="the staging folder")
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    answered(finish(proc), 143, "terminated (SIGTERM)")
    assert listing(tmp_path) == []

    proc = start("meshpose-synth", *args, cwd=work)
    wait_for(lambda: bool(staging()), what="the staging folder")
    proc.kill()
    proc.communicate(timeout=60)
    assert staging(), "SIGKILL cannot clean up; the next run must"
    res = run("meshpose-synth", "--out", out, "--count", "2", "--height", "64", "--width", "48", cwd=work)
    assert res.returncode == 0, res.stderr
    assert listing(tmp_path) == ["ds", "ds/meta.json", "ds/shard-00000.npz"]


# --------------------------------------------------------------------------- export, predict, bench

EXPORT_QUICK = ("--variant", "meshpose_tiny", "--target", "onnx", "--random-inputs", "0")


@pytest.fixture(scope="module")
def onnx_export(tmp_path_factory) -> Path:
    """One tiny ONNX artifact with its sidecar, made in-process."""
    from meshpose_export.convert.pipeline import plan_jobs, run_export
    from meshpose_mobile.seeded import seeded_model

    out = tmp_path_factory.mktemp("onnx")
    (result,) = run_export(seeded_model("meshpose_tiny"), plan_jobs("onnx", ()), out, n_random=0, log=lambda s: None)
    return result.path


@pytest.mark.parametrize("kind", ["file", "empty", "read_only", "disk_full"])
def test_export_out(kind: str, work: Path, tmp_path: Path, request) -> None:
    if kind == "file":
        out = tmp_path / "taken"
        out.write_text("x")
        needle = "is a file, not a folder"
    elif kind == "empty":
        out, needle = "", "--out is empty"
    elif kind == "read_only":
        out, needle = request.getfixturevalue("read_only") / "art", "cannot be written"
    else:
        out, needle = request.getfixturevalue("full_disk") / "art", "MB free"
    answered(run("meshpose-export", *EXPORT_QUICK, "--out", out, cwd=work), 2, needle)
    folder = Path(out).parent if out else work
    assert [p for p in listing(folder) if p != "taken"] == ([] if out else listing(folder))


EXPORT_VALUES = {
    "precision-typo-all": (("--target", "all", "--precision", "fp16", "--precision", "fp61"), "'fp61'"),
    "precision-other-target": (("--target", "onnx", "--precision", "int8_full"), "int8_full"),
    "unknown-target": (("--target", "onnx", "--target", "tflit"), "unknown target 'tflit'"),
    "box-scale-0": (("--box-scale", "0"), "--box-scale 0"),
    "box-scale-neg": (("--box-scale", "-1.1"), "--box-scale -1.1"),
    "box-scale-inf": (("--box-scale", "inf"), "--box-scale inf"),
    "box-scale-nan": (("--box-scale", "nan"), "--box-scale nan"),
    "random-inputs-neg": (("--random-inputs", "-3"), "--random-inputs -3"),
    "random-inputs-huge": (("--random-inputs", "100000000"), "--random-inputs 100000000 is more than 256"),
}


@pytest.mark.parametrize("case", list(EXPORT_VALUES))
def test_export_values(case: str, work: Path, tmp_path: Path) -> None:
    args, needle = EXPORT_VALUES[case]
    answered(run("meshpose-export", "--variant", "meshpose_tiny", *args, "--out", tmp_path / "a", cwd=work), 2, needle)
    assert listing(tmp_path) == []


def test_export_constants_with_our_checkpoint(files: dict[str, Path], work: Path, tmp_path: Path) -> None:
    constants = tmp_path / "c.json"
    constants.write_text('{"seam_pairs": []}')
    res = run(
        "meshpose-export", "--ckpt", files["model"], "--released-constants", constants, "--target", "onnx",
        "--out", tmp_path / "a", cwd=work,
    )  # fmt: skip
    answered(res, 2, "drop --released-constants")
    assert listing(tmp_path) == ["c.json"]


def test_targets_and_precisions_all_run() -> None:
    """Two --target flags both run; a precision offered by one of them is kept for it only."""
    from meshpose_export.convert.pipeline import plan_jobs

    jobs = [(str(j.target.name), j.precision) for j in plan_jobs(("onnx", "tflite"), ("fp32", "fp16"))]
    assert jobs == [("onnx", "fp32"), ("tflite", "fp32"), ("tflite", "fp16")]
    assert [str(j.target.name) for j in plan_jobs(("onnx", "onnx"), ())] == ["onnx"]


def _tflite_workers(marker: str) -> list[int]:
    pids = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or ())  # None: gone, or not ours to read
        if "_onnx2tf_worker" in cmd and marker in cmd:
            pids.append(proc.pid)
    return pids


@pytest.mark.skipif(sys.platform != "linux", reason="the workers die with the export by PR_SET_PDEATHSIG")
def test_export_interrupts(work: Path, tmp_path: Path) -> None:
    """SIGTERM to the export alone during the TFLite conversion: its workers go too, no staging is
    left, exit 143. SIGKILL: the kernel takes the workers (PR_SET_PDEATHSIG), the staging folder
    stays, and the next export into the folder sweeps it."""
    out = tmp_path / "arts"
    args = ("--variant", "meshpose_tiny", "--target", "tflite", "--precision", "fp32", "--out", out)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        proc = start("meshpose-export", *args, cwd=work)
        wait_for(lambda: bool(_tflite_workers(str(out))), timeout=180, what="a TFLite worker")
        proc.send_signal(sig)
        res = finish(proc)
        wait_for(lambda: not _tflite_workers(str(out)), timeout=30, what="the workers to end")
        staged = [p for p in listing(out) if p.startswith(".staging-") and "/" not in p]
        if sig == signal.SIGTERM:
            answered(res, 143, "terminated (SIGTERM)")
            assert "conversion failed" not in res.stderr
            assert listing(out) == []
        else:
            assert res.returncode == -signal.SIGKILL and staged
    # The next export sweeps the SIGKILL's staging; it also runs the README's form: a relative
    # --out, resolved against the folder the command runs in (not the repository).
    res = run("meshpose-export", *EXPORT_QUICK, "--out", out.name, cwd=out.parent)
    assert res.returncode == 0 and "left by an export that was killed" in res.stdout, res.stdout + res.stderr
    assert not [p for p in listing(out) if p.startswith(".staging-")]
    assert "meshpose_tiny_fp32.onnx" in listing(out)


@pytest.mark.skipif(sys.platform != "linux", reason="the workers die with the export by PR_SET_PDEATHSIG")
def test_export_interrupted_leaves_no_tensorflow_temp_files(work: Path, tmp_path: Path) -> None:
    """TensorFlow's autograph writes __autograph_generated_file*.py into the temp folder and removes
    them only at a clean exit. The converter workers get a temp folder inside the export's staging
    folder, so SIGTERM while they run leaves none in the system temp folder (here $TMPDIR)."""
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    out = tmp_path / "arts"
    args = ("--variant", "meshpose_tiny", "--target", "tflite", "--precision", "fp32", "--out", out)

    def generated(folder: Path) -> list[str]:
        return [p for p in listing(folder) if "__autograph_generated_file" in p]

    proc = start("meshpose-export", *args, cwd=work, env=_env(TMPDIR=str(system_tmp)))
    try:
        wait_for(lambda: bool(generated(out) or generated(system_tmp)), timeout=240, what="autograph's files")
    finally:
        proc.send_signal(signal.SIGTERM)
        res = finish(proc)
    wait_for(lambda: not _tflite_workers(str(out)), timeout=30, what="the workers to end")
    answered(res, 143, "terminated (SIGTERM)")
    assert generated(system_tmp) == [] and listing(out) == []


@pytest.fixture(scope="module")
def coreml_export(tmp_path_factory) -> Path:
    from meshpose_export.convert.pipeline import plan_jobs, run_export
    from meshpose_mobile.seeded import seeded_model

    out = tmp_path_factory.mktemp("coreml")
    (result,) = run_export(
        seeded_model("meshpose_tiny"), plan_jobs("coreml", ("fp16",)), out, n_random=0, log=lambda s: None
    )
    return result.path


def test_coreml_predict_says_only_what_a_user_needs(coreml_export: Path, tmp_path: Path) -> None:
    """Off macOS, coremltools and the TensorFlow it imports printed ~17 lines (untested versions,
    absl and oneDNN logs, 'Failed to load _MLModelProxy'). Left: one note saying who ran the
    program (the reference interpreter, not the Core ML runtime)."""
    from PIL import Image

    Image.new("RGB", (48, 64), (90, 90, 90)).save(tmp_path / "p.png")
    res = run("meshpose-predict", "p.png", "--model", coreml_export, "--whole-image", "--out", "pred", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    if sys.platform != "darwin":
        assert lines == [f"note: {coreml_export.name}: MIL program executed by the reference interpreter "
                         "(not the Core ML runtime)"], res.stderr  # fmt: skip
    assert res.stdout.splitlines()[0].startswith("wrote ")


def test_library_noise_filter_keeps_the_rest(capfd) -> None:
    """The filter drops known noise only: an unknown line printed during the import still shows."""
    from meshpose_export.targets.coreml.tools import _is_noise
    from meshpose_mobile.cli import filtered_stderr

    with filtered_stderr(_is_noise):
        os.write(2, b"I0000 00:00:1796395801.885965    8566 port.cc:153] oneDNN custom operations are on.\n")
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
        print("TensorFlow version 2.21.0 has not been tested with coremltools.", file=sys.stderr)
        os.write(2, b"something a user must see\n")
    assert capfd.readouterr().err.splitlines() == ["something a user must see"]


@pytest.mark.parametrize("when", ["imports", "onnx"])
def test_export_ctrl_c(when: str, work: Path, tmp_path: Path) -> None:
    """Ctrl-C in the first second (imports) or during the ONNX export (meshpose_xs: seconds of
    torch.onnx): exit 130, one line, never reported as a failed conversion, nothing left."""
    out = tmp_path / "arts"
    log = tmp_path / "stdout.txt"
    args = ("--variant", "meshpose_xs", "--target", "onnx", "--random-inputs", "0", "--out", out)
    with log.open("w") as fh:
        proc = subprocess.Popen(
            _command("meshpose-export", args), cwd=work, env=_env(), stdout=fh, stderr=subprocess.PIPE, text=True
        )
        if when == "imports":
            time.sleep(0.8)
        else:
            wait_for(lambda: "[onnx/fp32] exporting" in log.read_text(), timeout=180, what="the ONNX export")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    res = Result(proc.returncode, log.read_text(), err)
    answered(res, 130, "interrupted (Ctrl-C)")
    assert "conversion failed" not in res.stderr
    assert not [p for p in listing(out) if ".staging-" in p or p.endswith(".onnx")]


def _sidecar_copy(onnx: Path, dst: Path, edit) -> Path:
    dst.mkdir()
    art = dst / onnx.name
    shutil.copyfile(onnx, art)
    data = json.loads(Path(str(onnx) + ".json").read_text())
    edit(data)
    Path(str(art) + ".json").write_text(json.dumps(data))
    return art


def _set(path: str, value):
    def edit(data):
        node = data
        *parents, last = path.split(".")
        for p in parents:
            node = node[p]
        if value is KeyError:
            del node[last]
        else:
            node[last] = value

    return edit


def _resize(h: int, w: int):
    def edit(data):
        data["input"]["height"], data["input"]["width"] = h, w
        data["crop"]["input_height"], data["crop"]["input_width"] = h, w

    return edit


SIDECAR_CASES = {
    "bad-type": (_set("input.height", "tall"), "wrong type"),
    "missing-key": (_set("crop", KeyError), "lacks the field 'crop'"),
    "other-input-size": (_resize(128, 96), "does not run with its sidecar's 128x96 input"),
    "faces-out-of-range": (lambda d: d["mesh"]["faces"].append([0, 1, 9999]), "mesh.faces index 9999"),
    "sizes-disagree": (_set("crop.input_height", 128), "input is 64x48 but the crop is 128x48"),
    "border-bad": (_set("crop.border_value", [1, 2]), "border_value"),
}


@pytest.mark.parametrize("case", list(SIDECAR_CASES))
def test_corrupted_sidecar(case: str, onnx_export: Path, work: Path, tmp_path: Path) -> None:
    edit, needle = SIDECAR_CASES[case]
    art = _sidecar_copy(onnx_export, tmp_path / "a", edit)
    photo = tmp_path / "p.png"
    from PIL import Image

    Image.new("RGB", (48, 64), (90, 90, 90)).save(photo)
    answered(run("meshpose-predict", photo, "--model", art, "--out", tmp_path / "pred", cwd=work), 2, needle)
    assert listing(tmp_path / "pred") == [] and not (tmp_path / "pred").exists()


PREDICT_CASES = {
    "tiny-box": (("--box", "10,10,1e-9,1e-9"), "smaller than 1"),
    "box-scale-0": (("--box-scale", "0"), "--box-scale 0"),
    "box-scale-inf": (("--box-scale", "inf"), "--box-scale inf"),
    "box-scale-nan": (("--box-scale", "nan"), "--box-scale nan"),
    "constants-unused": (("--released-constants", "c.json"), "drop --released-constants"),
    "out-empty": (("--out", ""), "--out is empty"),
    "out-file": (("--out", "p.png"), "is a file, not a folder"),
}


@pytest.mark.parametrize("case", list(PREDICT_CASES))
def test_predict_values(case: str, files: dict[str, Path], tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (48, 64), (90, 90, 90)).save(tmp_path / "p.png")
    (tmp_path / "c.json").write_text('{"comment": "x", "seam_pairs": []}')
    args, needle = PREDICT_CASES[case]
    before = listing(tmp_path)
    res = run("meshpose-predict", "p.png", "--model", files["model"], "--out", "pred", *args, cwd=tmp_path)
    answered(res, 2, needle)
    assert listing(tmp_path) == before  # no predictions folder left behind


def test_predict_read_only_out(files: dict[str, Path], read_only: Path, tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (48, 64), (90, 90, 90)).save(tmp_path / "p.png")
    res = run("meshpose-predict", "p.png", "--model", files["model"], "--out", read_only / "pred", cwd=tmp_path)
    answered(res, 2, "cannot be written")
    assert listing(read_only) == []


BENCH_CASES = {
    "machine-escapes": (("--machine", "../x"), "--machine '../x' must be a plain folder name"),
    "machine-absolute": (("--machine", "/tmp/x"), "must be a plain folder name"),
    "expectation-bogus": (("--compare-expectation", "bogus"), "--compare-expectation 'bogus'"),
    "out-file": (("--out", "taken"), "is a file, not a folder"),
    "out-empty": (("--out", ""), "--out is empty"),
    "threads-past-cores": (("--threads", "1", "--threads", "512"), "--threads 512 is more than the"),
}


@pytest.mark.parametrize("case", list(BENCH_CASES))
def test_bench_fails_before_measuring(case: str, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("x")
    args, needle = BENCH_CASES[case]
    start_time = time.monotonic()
    res = run("meshpose-bench", "--variant", "meshpose_tiny", "--out", "results", *args, cwd=tmp_path)
    answered(res, 2, needle)
    assert "measuring" not in res.stderr and time.monotonic() - start_time < 60
    assert listing(tmp_path) == ["taken"]


def test_predict_disk_fills_at_the_overlay(files: dict[str, Path], full_disk: Path, tmp_path: Path) -> None:
    """A 64 kB disk holds the photo's JSON (about 23 kB) but not its overlay (about 195 kB): the
    two are written as a set, so neither is left, not a JSON without its overlay."""
    from PIL import Image

    Image.new("RGB", (48, 64), (90, 90, 90)).save(tmp_path / "p.png")
    out = full_disk / "pred"
    res = run("meshpose-predict", "p.png", "--model", files["model"], "--whole-image", "--out", out, cwd=tmp_path)
    answered(res, 2, "p_overlay.png (the disk is full)")
    assert listing(full_disk) == []
    # The same photo without the overlay fits: the disk was the only problem.
    res = run(
        "meshpose-predict", "p.png", "--model", files["model"], "--whole-image", "--no-overlay", "--out", out,
        cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert listing(full_disk) == ["pred", "pred/p.json"]
    shutil.rmtree(out)


def test_predict_video_disk_full(files: dict[str, Path], full_disk: Path, tmp_path: Path) -> None:
    """A video's overlay (noise frames: about 800 kB) fills a 64 kB disk part-way: neither the
    video nor its JSONL is left (they are placed together, `people_cli.run_video`)."""
    from meshpose_export.runtime.video import write_video

    rng = np.random.default_rng(0)
    write_video([rng.integers(0, 255, (240, 320, 3), dtype=np.uint8) for _ in range(20)], tmp_path / "v.mp4", 10)
    res = run("meshpose-predict", "v.mp4", "--model", files["model"], "--out", full_disk / "v", cwd=tmp_path)
    answered(res, 2, "(the disk is full)")
    assert listing(full_disk) == []


def test_bench_read_only_out(read_only: Path, tmp_path: Path) -> None:
    res = run("meshpose-bench", "--variant", "meshpose_tiny", "--out", read_only / "results", cwd=tmp_path)
    answered(res, 2, "cannot be written")
    assert "measuring" not in res.stderr and listing(read_only) == []


def test_interrupt_swallowed_by_a_converter_still_stops_the_export(tmp_path: Path, monkeypatch) -> None:
    """torch.onnx can catch a Ctrl-C inside one capture strategy and succeed with the next (a clean-clone
    CI run exited 0 after Ctrl-C). The handler has recorded it: the export stops before placing
    anything, as for any interrupt."""
    import signal as signal_mod

    from meshpose_export.convert.pipeline import plan_jobs, run_export
    from meshpose_export.targets.base import get_target
    from meshpose_mobile import signals
    from meshpose_mobile.seeded import seeded_model

    onnx = type(get_target("onnx"))
    real_export = onnx.export

    def export_swallowing_ctrl_c(self, *args, **kwargs):
        out = real_export(self, *args, **kwargs)
        monkeypatch.setattr(signals, "_pending", signal_mod.SIGINT)  # what the handler records
        return out

    monkeypatch.setattr(onnx, "export", export_swallowing_ctrl_c)
    out = tmp_path / "arts"
    with pytest.raises(KeyboardInterrupt):
        run_export(seeded_model("meshpose_tiny"), plan_jobs("onnx", ()), out, n_random=0, log=lambda s: None)
    assert not out.exists() or sorted(p.name for p in out.iterdir()) == []


_DEFERRED_SCRIPT = """
import os, signal, sys, time
from meshpose_mobile.signals import deferred, install_handlers
install_handlers()
try:
    with deferred():
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(100):  # Python code runs the handler; inside, it must not raise
            time.sleep(0.001)
        print("block finished", flush=True)
    print("not reached", flush=True)
except KeyboardInterrupt:
    print("raised after the block", flush=True)
    sys.exit(130)
"""


def test_ctrl_c_during_a_native_import_is_raised_after_it() -> None:
    """A KeyboardInterrupt raised inside nanobind's module init (onnx, onnxsim) aborts the process
    with a C++ traceback (a clean-clone CI run: exit -6 after Ctrl-C during `import onnx`).
    `deferred`, which `import_native` uses, holds the signal until the block ends."""
    proc = subprocess.run([sys.executable, "-c", _DEFERRED_SCRIPT], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 130, proc.stderr
    assert proc.stdout.splitlines() == ["block finished", "raised after the block"]


def test_deferred_keeps_the_blocks_own_error() -> None:
    from meshpose_mobile.signals import deferred

    with pytest.raises(ValueError, match="own"), deferred():
        raise ValueError("own")
