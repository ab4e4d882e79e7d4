"""Reading a safetensors file's bytes: the one parser of the format for the checkpoints, the shipped generators,
the classifier and latents files.

Nothing is unpickled, and whatever the bytes hold (a hostile header, a truncated file, another format) comes out as a
ValueError; each caller turns it into its own error naming the file, and checks the size before reading (a
weights file's limit is `gan_core.checkpoints.MAX_WEIGHTS_BYTES`, a latents file's `gan_core.projection`'s).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def parse_safetensors(data: bytes) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and `__metadata__` of a safetensors file's bytes; ValueError when they are not readable as one.

    The one reader of the format for the checkpoints, the shipped generators and the classifier; each caller turns
    the ValueError into its own error naming the file. Nothing is unpickled.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as st_load

    try:
        header_len = int.from_bytes(data[:8], "little")
        header: Any = json.loads(data[8 : 8 + header_len])
        tensors = st_load(data)
    except (SafetensorError, ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise ValueError(str(exc)) from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return tensors, meta or {}
