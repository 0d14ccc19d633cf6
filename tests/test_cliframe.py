"""The CLI frame (meshpose_mobile/cliframe.py): one place turns user errors, interrupts and an
unwritable standard output into one `error:` line and its exit code, while a bug keeps its
traceback; every console script of both packages, and every tool they ship, is built by it, and
`meshpose --help` lists them all.

The toy commands run in a fresh Python process, as a user's shell runs them (a signal, a closed
pipe and /dev/full need a real process and real file descriptors)."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from meshpose_mobile.cliframe import FramedCommand, FramedGroup, command

ROOT = Path(__file__).resolve().parents[1]

TOY = '''
import dataclasses, errno, sys, time
import click
from meshpose_mobile.cliframe import command, group
from meshpose_mobile.errors import ConfigError, MeshPoseError


class ParityLike(MeshPoseError):
    exit_code = 3


@group()
def toy():
    """Toy commands."""


@toy.command("config")
def config_cmd():
    raise ConfigError("--steps -1 must be positive; pass --steps 10")


@toy.command("parity")
def parity_cmd():
    raise ParityLike("onnx fp32 is 0.5 px from PyTorch (tolerance 0.01 px)")


@toy.command("bug")
def bug_cmd():
    {}["no such key"]


@toy.command("disk")
def disk_cmd():
    raise OSError(errno.ENOSPC, "No space left on device", "/data/out/x.bin")


@toy.command("other-oserror")
def other_oserror_cmd():
    raise OSError(errno.EBADF, "Bad file descriptor")


@toy.command("ctrl-c", interrupted="nothing was written")
def ctrl_c_cmd():
    raise KeyboardInterrupt()


@toy.command("wait", interrupted=lambda p: f"nothing was written to {p['out']}")
@click.option("--out", required=True)
def wait_cmd(out):
    click.echo("ready")
    sys.stdout.flush()
    time.sleep(60)


@toy.command
def print_lines():
    for i in range(20000):  # bare @toy.command: named after the function
        click.echo(f"line {i}")


@dataclasses.dataclass(frozen=True)
class Opts:
    name: str
    count: int


@command(options=Opts)
@click.option("--name", default="x")
@click.option("--count", type=int, default=2)
def typed(opts):
    click.echo(repr(opts))


if __name__ == "__main__":
    (typed if sys.argv[1] == "typed" else toy)(sys.argv[2:] if sys.argv[1] == "typed" else sys.argv[1:])
'''


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("toy") / "toy.py"
    path.write_text(TOY)
    return path


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}


def run(toy: Path, *args: str, stdout: object = subprocess.PIPE) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(toy), *args], stdout=stdout, stderr=subprocess.PIPE, text=True, env=_env(), timeout=60
    )


def one_line(res: subprocess.CompletedProcess, code: int) -> str:
    """The contract: exit `code`, stderr is exactly one `error:` line, no traceback."""
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == code, (res.returncode, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    return lines[0]


def test_user_error_is_one_line_with_its_exit_code(toy: Path) -> None:
    assert one_line(run(toy, "config"), 2) == "error: --steps -1 must be positive; pass --steps 10"
    assert one_line(run(toy, "parity"), 3) == "error: onnx fp32 is 0.5 px from PyTorch (tolerance 0.01 px)"


def test_user_os_error_is_one_line(toy: Path) -> None:
    line = one_line(run(toy, "disk"), 2)
    assert line.startswith("error: /data/out/x.bin: the disk is full;"), line


def test_bugs_keep_their_traceback(toy: Path) -> None:
    for args in (("bug",), ("other-oserror",)):
        res = run(toy, *args)
        assert res.returncode == 1 and "Traceback" in res.stderr, res.stderr
        assert not [ln for ln in res.stderr.splitlines() if ln.startswith("error:")], res.stderr
    assert "KeyError: 'no such key'" in run(toy, "bug").stderr


def test_keyboard_interrupt_exits_130(toy: Path) -> None:
    assert one_line(run(toy, "ctrl-c"), 130) == "error: interrupted (Ctrl-C); nothing was written"


@pytest.mark.parametrize(
    ("sig", "code", "name"),
    [(signal.SIGTERM, 143, "terminated (SIGTERM)"), (signal.SIGINT, 130, "interrupted (Ctrl-C)")],
)
def test_signals_exit_with_the_shell_code(toy: Path, sig: int, code: int, name: str) -> None:
    """The interrupt note may name what the user passed (click's parsed parameters)."""
    proc = subprocess.Popen(
        [sys.executable, str(toy), "wait", "--out", "d"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    res = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    assert one_line(res, code) == f"error: {name}; nothing was written to d"


@pytest.mark.parametrize("sink", ["full", "closed-pipe"])
@pytest.mark.parametrize("args", [("print-lines",), ("print-lines", "--help")])
def test_stdout_that_cannot_be_written(toy: Path, sink: str, args: tuple[str, ...]) -> None:
    """`> /dev/full` and `| head -0`: one line, exit 2, no "Exception ignored" at exit (help too)."""
    if sink == "full":
        if not Path("/dev/full").exists():
            pytest.skip("no /dev/full here")
        with open("/dev/full", "w") as full:
            res = run(toy, *args, stdout=full)
        why = "the disk is full"
    else:
        read, write = os.pipe()
        os.close(read)
        try:
            res = run(toy, *args, stdout=write)
        finally:
            os.close(write)
        why = "broken pipe"
    assert f"cannot write to standard output ({why}" in one_line(res, 2)


def test_typed_options(toy: Path) -> None:
    res = run(toy, "typed", "--name", "y", "--count", "5")
    assert res.returncode == 0 and res.stdout.strip() == "Opts(name='y', count=5)", res.stderr


def test_options_must_match_the_parameters() -> None:
    @dataclasses.dataclass(frozen=True)
    class Opts:
        name: str

    with pytest.raises(TypeError, match="fields"):

        @command(options=Opts)
        @click.option("--name")
        @click.option("--other")
        def bad(opts: Opts) -> None:
            pass


def test_in_process_runner_sees_the_same_exits() -> None:
    """Tests call commands through CliRunner: the frame answers there as in a shell."""
    from meshpose_mobile.errors import ConfigError

    @command()
    @click.option("--n", type=int, default=0)
    def toy_cmd(n: int) -> None:
        if n < 0:
            raise ConfigError(f"--n {n} must be >= 0")
        raise KeyboardInterrupt()

    res = CliRunner().invoke(toy_cmd, ["--n", "-1"])
    assert res.exit_code == 2 and res.stderr == "error: --n -1 must be >= 0\n"
    res = CliRunner().invoke(toy_cmd, [])
    assert res.exit_code == 130 and res.stderr == "error: interrupted (Ctrl-C); nothing was written\n"


# ------------------------------------------------------------------------ every command uses it


def _scripts() -> dict[str, str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def _load(target: str) -> click.Command:
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def test_every_console_script_is_built_by_the_frame() -> None:
    scripts = _scripts()
    assert len(scripts) >= 11 and "meshpose" in scripts, scripts
    for name, target in scripts.items():
        cmd = _load(target)
        assert isinstance(cmd, (FramedCommand, FramedGroup)), f"{name} ({target}) is not declared with cliframe"
        subs = list(cmd.commands.values()) if isinstance(cmd, click.Group) else []
        assert all(isinstance(s, FramedCommand) for s in subs), name
        for args in [["-h"], *([s.name, "--help"] for s in subs)]:
            res = CliRunner().invoke(cmd, args)
            assert res.exit_code == 0 and "Usage:" in res.stdout, (name, args, res.output)


# Internal subprocess protocols, not commands: JSON in argv[1], one result line on stdout, read
# by the parent process that started them (never typed by a user).
_PROTOCOLS = {"export/bench/worker.py", "export/bench/ab.py", "export/targets/_onnx2tf_worker.py"}


def test_no_command_outside_the_frame() -> None:
    """No argparse, sys.argv or bare click.command/click.group in either package: a new command
    or tool goes through cliframe (or it would miss the one-line exits)."""
    offenders = []
    paths = sorted((ROOT / "meshpose_mobile").rglob("*.py")) + sorted((ROOT / "export").rglob("*.py"))
    for path in paths:
        if path.name == "cliframe.py" or str(path.relative_to(ROOT)) in _PROTOCOLS:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                if "argparse" in names:
                    offenders.append(f"{where} imports argparse")
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if (node.value.id, node.attr) in {("sys", "argv"), ("click", "command"), ("click", "group")}:
                    offenders.append(f"{where} uses {node.value.id}.{node.attr}")
    assert not offenders, offenders


def test_meshpose_lists_and_runs_every_command() -> None:
    """`meshpose --help` names every `meshpose-*` script with its summary; `meshpose NAME` is the
    same command object as `meshpose-NAME` (same options, messages and exit codes)."""
    from meshpose_export.cli.meshpose_cli import COMMANDS, main

    scripts = {n: t for n, t in _scripts().items() if n != "meshpose"}
    assert {f"meshpose-{n}": t for n, t in COMMANDS.items()} == scripts
    res = CliRunner().invoke(main, ["--help"], prog_name="meshpose")
    assert res.exit_code == 0, res.output
    for name, target in COMMANDS.items():
        cmd = _load(target)
        assert main.get_command(click.Context(main), name) is cmd
        assert f"  {name} " in res.stdout and cmd.get_short_help_str(1000).split()[0] in res.stdout, name
    res = CliRunner().invoke(main, ["export", "--random-inputs", "-1"])
    assert res.exit_code == 2 and res.stderr == "error: --random-inputs -1 must be >= 0\n", res.output
    res = CliRunner().invoke(main, ["no-such-command"])
    assert res.exit_code == 2 and "No such command" in res.output


@pytest.mark.parametrize(
    "module",
    ["meshpose_export.runtime.synth_clip", "meshpose_export.bench.matmul_peak", "meshpose_export.bench.profile_ort",
     "meshpose_export.bench.android"],
)  # fmt: skip
def test_shipped_tools_use_the_frame(module: str) -> None:
    """The `python -m` tools the export package ships answer like the console scripts."""
    cmd = importlib.import_module(module).main
    assert isinstance(cmd, FramedCommand), module
    res = CliRunner().invoke(cmd, ["--help"])
    assert res.exit_code == 0 and "Usage:" in res.stdout, res.output


def test_tool_errors_are_one_line(tmp_path: Path) -> None:
    from meshpose_export.bench.android import main as android_main
    from meshpose_export.bench.profile_ort import main as profile_main
    from meshpose_export.runtime.synth_clip import main as synth_clip_main

    res = CliRunner().invoke(synth_clip_main, [str(tmp_path / "clip.avi")])
    assert res.exit_code == 2 and res.stderr == f"error: {tmp_path / 'clip.avi'} must end in .mp4\n"
    res = CliRunner().invoke(profile_main, [str(tmp_path / "none.onnx")])
    assert res.exit_code == 2 and res.stderr.startswith("error: ") and "does not exist" in res.stderr
    res = CliRunner().invoke(android_main, [str(tmp_path / "o.json"), "pixel", "bad-spec"])
    assert res.exit_code == 2 and res.stderr.startswith("error: ") and "\n" == res.stderr[-1], res.output
    assert not (tmp_path / "o.json").exists()


def test_values_option_takes_every_value_up_to_the_next_flag() -> None:
    """`--threads 1 2` as argparse's nargs="*" took it (matmul_peak's documented form)."""
    from meshpose_mobile.cliframe import Values

    @command()
    @click.option("--threads", cls=Values, type=int, multiple=True, default=(1, 2))
    @click.option("--runs", type=int, default=20)
    def toy_values(threads: tuple[int, ...], runs: int) -> None:
        click.echo(f"{threads} {runs}")

    for args, out in [
        ([], "(1, 2) 20"),
        (["--threads", "1", "2", "4", "--runs", "3"], "(1, 2, 4) 3"),
        (["--threads", "3", "--threads", "5"], "(3, 5) 20"),
    ]:
        res = CliRunner().invoke(toy_values, args)
        assert res.exit_code == 0 and res.stdout.strip() == out, (args, res.output)
