"""Reading a torch checkpoint file safely, with one-line errors: the lowest layer of the model
core's file handling (checkpoints, upsamplers and the authors' released files all start here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from meshpose_mobile.errors import CheckpointError


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """torch.load with one-line errors for the ways a file can be wrong."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}; pass an existing file to --ckpt")
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a folder; pass the .pt file inside it")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # the unpickler raises anything from IndexError to UnpicklingError on bad bytes
        first = str(err).strip().splitlines()[0][:120] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"checkpoint {path} is truncated or not a PyTorch checkpoint ({first}); re-download or re-save it"
        ) from None
    if not isinstance(data, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(data).__name__}, not a checkpoint dict")
    return data
