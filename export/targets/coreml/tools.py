"""Importing and calling coremltools without its noise: the lowest module of the CoreML target
(the interpreter, the contract and the target all use it; it imports none of them)."""

from __future__ import annotations

import contextlib
import io
import logging
import platform
import re
import warnings

from meshpose_mobile.cli import filtered_stderr


def quiet():
    """coremltools prints version warnings and progress bars; keep the CLI's output readable."""
    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
    logging.getLogger("coremltools").setLevel(logging.ERROR)
    return stack


# What importing coremltools (and the TensorFlow it imports) prints that no user can act on: about
# 17 lines on Linux. Anything else printed during the import is passed on.
_IMPORT_NOISE = re.compile(
    "|".join(
        (
            r"has not been tested with coremltools",
            r"scikit-learn version .* is not supported",
            r"All log messages before absl::InitializeLog\(\) is called",
            r"^[IW]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ \w+\.cc:\d+\]",  # absl INFO/WARNING lines (TensorFlow)
            r"oneDNN custom operations are on",
            r"Could not find cuda drivers",
            r"Unable to register cu\w+ factory",
            r"TF-TRT Warning",
        )
    )
)
# Off macOS coremltools has no runtime library, which is expected there: its "Failed to load
# _MLModelProxy ..." lines are noise; on macOS they would mean a broken install and are kept.
_NO_RUNTIME = re.compile(r"Failed to load _ML\w+Proxy: No module named 'coremltools\.libcoremlpython'")


def _is_noise(line: str) -> bool:
    return bool(_IMPORT_NOISE.search(line)) or (platform.system() != "Darwin" and bool(_NO_RUNTIME.search(line)))


def coremltools_quietly():
    with warnings.catch_warnings(), filtered_stderr(_is_noise):
        warnings.simplefilter("ignore")
        logging.getLogger("coremltools").setLevel(logging.ERROR)
        import coremltools as ct
    return ct
