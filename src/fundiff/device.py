"""Device and thread selection shared by every script."""

from __future__ import annotations

import torch


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> cuda if available else cpu; 'cuda' without a GPU is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(
            "config 'device: cuda' but no CUDA GPU is visible; set 'device: auto' or 'cpu'"
        )
    return torch.device(name)


def setup_torch(threads: int, deterministic: bool = True) -> None:
    """Pin intra-op threads to the rule's ``threads`` and make CPU results repeatable."""
    torch.set_num_threads(max(1, int(threads)))
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True where the CPU computes bf16 in hardware (x86 ``avx512_bf16`` or ``amx_bf16`` in
    /proc/cpuinfo). Elsewhere bf16 is emulated and slower than fp32, so training stays fp32."""
    try:
        with open(cpuinfo) as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def bf16_autocast_enabled(wanted: bool, device: torch.device) -> bool:
    """``partb.amp_bf16``: bf16 autocast on CUDA, and on a CPU with native bf16."""
    return bool(wanted) and (
        device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16())
    )
