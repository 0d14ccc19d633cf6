"""`meshpose`: every command of the project in one place. `meshpose --help` lists them with one
line each; `meshpose export ...` runs exactly what `meshpose-export ...` runs (the same click
command object, so the same options, messages and exit codes). The old `meshpose-*` entry points
stay. Commands are imported only when listed or run, so a typo'd name costs no import.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from meshpose_mobile.cliframe import FramedGroup, group

# The `meshpose-<name>` console scripts of pyproject.toml, in the order a newcomer meets them
# (tests/test_cliframe.py checks that this is every one of them).
COMMANDS: dict[str, str] = {
    "export": "meshpose_export.cli.export_cli:main",
    "predict": "meshpose_export.cli.predict_cli:main",
    "bench": "meshpose_export.cli.bench_cli:main",
    "eval-real": "meshpose_export.cli.realphoto_cli:main",
    "models": "meshpose_mobile.models_cli:models_main",
    "params": "meshpose_mobile.cli:params_main",
    "train": "meshpose_mobile.train.cli:train_main",
    "train-upsampler": "meshpose_mobile.train.cli:train_upsampler_main",
    "synth": "meshpose_mobile.train.cli:synth_main",
    "topology": "meshpose_mobile.topology_cli:main",
}


class CommandList(FramedGroup):
    """A frame group whose subcommands are the `COMMANDS` entries, imported on demand."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        cmd: Any = getattr(importlib.import_module(module), attr)
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Each command's whole first sentence (click cuts it at the terminal's width), wrapped."""
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=1000)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@group(cls=CommandList)
def main() -> None:
    """MeshPose Mobile: from a PyTorch checkpoint to phone artifacts with parity reports in pixels.

    Each command is also installed as `meshpose-<command>`; `meshpose COMMAND --help` shows its
    options."""


if __name__ == "__main__":
    main()
