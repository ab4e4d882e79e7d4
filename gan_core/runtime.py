"""Where and how fast tensors run: device choice and the CPU thread count.

On small 2-core machines PyTorch's default of one OpenMP thread per core makes
the small matrix products of these GANs several times slower as soon as another
process (the Streamlit server, a second run) wants a core; one thread is the
measured default (see benchmarks/train_speed.py).
"""

from __future__ import annotations

import torch


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` picks CUDA, then Apple's MPS, then the CPU; an explicit choice that is absent is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but no CUDA GPU is available; use device 'auto' or 'cpu'")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' was asked for but Apple MPS is not available; use device 'auto' or 'cpu'")
    return torch.device(name)


def set_threads(threads: int) -> None:
    """0 keeps PyTorch's default; anything else is applied process-wide."""
    if threads > 0 and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
