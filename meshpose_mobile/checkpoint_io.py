"""Reading a torch checkpoint file safely, with one-line errors: the lowest layer of the model
core's file handling (checkpoints, upsamplers and the authors' released files all start here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from meshpose_mobile.errors import CheckpointError


def read_checkpoint(path: str | Path, flag: str = "--ckpt") -> dict[str, Any]:
    """torch.load with one-line errors for the ways a file can be wrong; `flag` is the option
    that named the file, so the message points at the right one."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{flag} file not found: {path}; pass an existing file to {flag}")
    if path.is_dir():
        raise CheckpointError(f"{flag} {path} is a folder; pass the .pt file inside it")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # the unpickler raises anything from IndexError to UnpicklingError on bad bytes
        text = str(err)
        if "Weights only load failed" in text and "GLOBAL" in text:
            # Intact file, but it pickles Python objects (e.g. torch.save(model)): loading it would
            # run code from the file.
            raise CheckpointError(
                f"{flag} {path} holds pickled Python objects (a whole saved model?), which are not loaded "
                "because that would run code from the file; save the weights with "
                "meshpose_mobile.checkpoint.save_checkpoint(path, model) and pass that file"
            ) from None
        first = " ".join(text.split())[:120] or type(err).__name__
        raise CheckpointError(
            f"{flag} {path} is truncated or not a PyTorch checkpoint ({first}); re-download or re-save it"
        ) from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{flag} {path} holds a {type(data).__name__}, not a checkpoint dict")
    return data
