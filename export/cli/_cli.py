"""What the export-side commands share at their boundary: lazy registry help (so `import` stays
light and a Ctrl-C in the first seconds reaches `main`) and checks of values that are otherwise
accepted silently. One-line failures, interrupts and exit codes: the CLI frame (`meshpose_mobile.cliframe`),
shared with training."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import click

from meshpose_mobile.errors import ConfigError


class LazyHelp(click.Option):
    """An option whose help text is computed when help is shown: it names the registered targets,
    and the registry's imports (torch, converters) would otherwise run on every start."""

    def __init__(self, *args: Any, help_fn: Callable[[], str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help_fn = help_fn

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        self.help = self.help_fn()
        return super().get_help_record(ctx)


def targets() -> list:
    from meshpose_export.targets.base import get_target, list_targets

    return [get_target(n) for n in list_targets()]


def check_box_scale(value: float | None, flag: str = "--box-scale") -> None:
    if value is not None and not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ConfigError(f"{flag} {value} must be a finite number > 0 (1.1 is the usual value)")


def check_count(value: int, flag: str, minimum: int = 0, maximum: int | None = None) -> None:
    if value < minimum:
        raise ConfigError(f"{flag} {value} must be >= {minimum}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{flag} {value} is more than {maximum}; pass at most {maximum}")
