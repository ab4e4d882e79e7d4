"""Where and how fast tensors run: device choice and the CPU thread count.

Threads: `TrainConfig.threads` 0 keeps PyTorch's one thread per physical core. With OpenMP's default spinning
wait, two threads ran up to 12x slower than one whenever another process (the Streamlit server, a second run)
wanted a core; with the passive wait policy that `gan_core/__init__.py` sets, two threads are 1.45x faster on an
idle 2-core machine and 0.83x beside a busy core (benchmarks/README.md).
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


# PyTorch's own choice (one thread per physical core), read before any run changes it.
DEFAULT_THREADS = torch.get_num_threads()


def set_threads(threads: int) -> None:
    """Applied process-wide; 0 means PyTorch's default, even after an earlier run of this process chose another."""
    wanted = threads or DEFAULT_THREADS
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)


#: How a training step or a projection computes: "auto" takes bf16 autocast where it is native (`native_bf16`),
#: fp32 elsewhere; "bf16" and "fp32" force one.
PRECISIONS = ("auto", "bf16", "fp32")


def use_bf16(precision: str, device: torch.device | str) -> bool:
    """Whether `precision` means bf16 autocast on `device`."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)} (got {precision!r})")
    return precision == "bf16" or (precision == "auto" and native_bf16(device))


def native_bf16(device: torch.device | str) -> bool:
    """Whether bf16 matrix maths is native here (detected, not assumed: machines differ).

    A CPU with AMX-BF16 or AVX512-BF16 (Linux's /proc/cpuinfo flags) runs bf16 matmuls several times faster than
    fp32; elsewhere bf16 is emulated and slower. CUDA asks the driver. CUDA and MPS are unmeasured here.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return False
    return bool({"amx_bf16", "avx512_bf16"} & set(flags.split()))
