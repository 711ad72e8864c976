"""Device and thread selection shared by every script."""

from __future__ import annotations

import torch

from fundiff.errors import UserError


class DeviceError(UserError, RuntimeError):
    """The configured ``device`` is not usable on this machine (one line saying what to set)."""


def mps_available() -> bool:
    """Apple's Metal backend is usable (a torch built with MPS on macOS 12.3+, Apple silicon)."""
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> cuda if a GPU is visible, else mps if Apple's MPS is available, else cpu.

    MPS runs in fp32 everywhere: bf16 autocast (:func:`bf16_autocast_enabled`), CUDA graphs and
    DeepFloyd's fp16 weights are for CUDA only. 'cuda' / 'cuda:N' without a (such) GPU, 'mps'
    without Apple's MPS, or an unknown name is a :class:`DeviceError`: one line naming the
    ``device`` key and what to set or install."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if mps_available() else "cpu")
    fix = "set 'device: auto' (cuda when a GPU is visible, else mps, else cpu) or 'device: cpu'"
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise DeviceError(
            f"config key 'device' is '{name}', which is not a device; use auto, cpu, cuda, "
            "cuda:N or mps"
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = (
                "this torch is a CPU-only build"
                if torch.version.cuda is None
                else "CUDA_VISIBLE_DEVICES hides them or the driver is missing"
            )
            raise DeviceError(
                f"config key 'device' is '{name}' but no CUDA GPU is visible ({why}); {fix}, "
                "or install a CUDA build of torch on a GPU machine"
            )
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise DeviceError(
                f"config key 'device' is '{name}' but only {count} CUDA device(s) are visible "
                f"(cuda:0..cuda:{count - 1}); use one of them or 'device: cuda'"
            )
    elif dev.type == "mps":
        if not mps_available():
            raise DeviceError(
                f"config key 'device' is '{name}' but Apple's MPS is not available here (it "
                f"needs macOS 12.3+ on Apple silicon and a torch built with MPS); {fix}"
            )
    elif dev.type != "cpu":
        raise DeviceError(
            f"config key 'device' is '{name}'; this pipeline runs on auto, cpu, cuda, cuda:N or mps"
        )
    return dev


def setup_torch(threads: int, deterministic: bool = True) -> None:
    """Pin intra-op threads to the rule's ``threads`` and make results repeatable: deterministic
    algorithms, no cuDNN autotuning and, for CUDA, ``CUBLAS_WORKSPACE_CONFIG`` (set before cuBLAS
    starts; a value the user set is kept; CPU runs never read it)."""
    torch.set_num_threads(max(1, int(threads)))
    if deterministic:
        import os

        # cuBLAS reads it at its first call: the documented setting for repeatable CUDA matmuls
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def determinism_facts(device: torch.device, bf16: bool) -> dict:
    """What decides whether two trainings give the same bytes: the device (type and model), the
    intra-op threads, the precision and the torch version; on CUDA also whether deterministic
    algorithms and ``CUBLAS_WORKSPACE_CONFIG`` were in force. Recorded in every checkpoint."""
    import os

    device = torch.device(device)
    facts = {
        "device": device.type,
        "device_name": (
            torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model_name()
        ),
        "threads": torch.get_num_threads(),
        "precision": "bf16 autocast" if bf16 else "fp32",
        "torch": str(torch.__version__),  # a plain str: checkpoints load with weights_only
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
    }
    if device.type == "cuda":
        workspace = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
        facts["cublas_workspace_config"] = workspace
        facts["deterministic"] = bool(
            facts["deterministic_algorithms"] and workspace in (":4096:8", ":16:8")
        )
    else:
        facts["deterministic"] = facts["deterministic_algorithms"]
    return facts


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
    """``partb.amp_bf16``: bf16 autocast on CUDA, and on a CPU with native bf16 (never on MPS,
    which runs fp32)."""
    return bool(wanted) and (
        device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16())
    )


# ----------------------------------------------------------------------------- measured precision
# Whether bf16 autocast is faster than fp32 depends on the CPU, not on its flags alone (native
# bf16 helps on some CPUs and not on others; see docs/benchmarks.md). The calibration rule times a
# few real steps of each precision at the threads the plan gives the jobs (scripts/
# partb_calibrate.py) and :func:`choose_fastest` picks one. Threads per job are not measured: they
# are fixed when the workflow is planned (fundiff.diffusion.settings.train_threads).


def precision_candidates(cores: int, jobs: int, bf16: bool, threads: int) -> list[dict]:
    """Candidate precisions for ``jobs`` jobs of ``threads`` threads each on ``cores`` cores:
    fp32, plus bf16 autocast where ``bf16`` (the config allows it and torch can run it here).
    Each candidate runs ``concurrent = cores // threads`` copies at once when measured (capped by
    ``jobs``), as the jobs will run side by side."""
    cores, jobs = max(1, int(cores)), max(1, int(jobs))
    threads = max(1, min(int(threads), cores))
    concurrent = max(1, min(jobs, cores // threads))
    return [
        {"amp_bf16": amp, "threads": threads, "concurrent": concurrent}
        for amp in ([False, True] if bf16 else [False])
    ]


def choose_fastest(measured: list[dict]) -> bool:
    """Whether bf16 autocast wins: the candidate with the highest total throughput
    (``images_per_s`` summed over its ``concurrent`` copies); ties (within 3%) go to fp32 (exact)."""
    if not measured:
        raise ValueError("choose_fastest needs at least one measured candidate")
    best = max(m["images_per_s"] for m in measured)
    close = [m for m in measured if m["images_per_s"] >= 0.97 * best]
    return bool(min(close, key=lambda m: (m["amp_bf16"], -m["images_per_s"]))["amp_bf16"])


def cpu_model_name(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU's model name as ``lscpu`` prints it (``platform.processor()`` where unreadable)."""
    import platform

    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def calibrated(path, key: str, default=False):
    """One choice (e.g. ``sample_bf16``) from the calibration rule's JSON (``default`` when the
    rule has no such input, e.g. the deepfloyd backend)."""
    import json

    if not path:
        return default
    with open(path) as f:
        return json.load(f)["choice"].get(key, default)
