"""Crash-safe resume of a training (:func:`fundiff.diffusion.train.train`).

After every epoch the loop writes a resume state, ``resume.pt``: model, optimizer, LR scheduler,
EMA, both RNG states and the loss history (:func:`save`), atomically (fsynced); the previous
epoch's state is kept beside it as ``resume.prev.pt``. If a state with the same fingerprint
(training config + data + library source + device type, torch version, threads and precision)
exists, training continues from it (:func:`restore`) and ends bit-identical to an uninterrupted
run. A state that cannot be used (torn, empty, another device or config, not plain tensors: it is
read with ``weights_only=True``) is logged on one line and moved aside (``resume.pt.bad-<time>``,
never deleted); training then resumes from the previous epoch's state, or starts afresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch.optim.swa_utils import AveragedModel

from fundiff.diffusion.checkpoint import epoch_file
from fundiff.errors import first_line
from fundiff.io import torch_save, write_bytes

log = logging.getLogger("fundiff")
RESUME, PREVIOUS = "resume.pt", "resume.prev.pt"  # the resume state, and the epoch before's


@dataclass
class TrainState:
    """Everything a resume state restores."""

    model: torch.nn.Module
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    ema: AveragedModel | None
    g_perm: torch.Generator  # the batch order (CPU)
    g_noise: torch.Generator  # the loss's draws: eps, t, class drops (on the device)
    epoch: int = 0  # epochs done
    history: list[dict] = field(default_factory=list)  # one entry per step


def source_fingerprint() -> str:
    """Hash of this package's source: a code change never resumes an older run's state."""
    h = hashlib.sha256()
    for p in sorted(Path(__file__).parent.rglob("*.py")):
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def fingerprint(cfg, images: torch.Tensor, device: torch.device | str = "cpu") -> str:
    """Identity of a training run (``cfg``: its TrainConfig): a resume state continues only a run
    with the same one. Beyond the config, data and library source it covers what decides the
    exact numbers: device type, torch version, intra-op threads and precision (bf16 autocast or
    fp32)."""
    h = hashlib.sha256(json.dumps(asdict(cfg), sort_keys=True).encode())
    h.update(images.numpy().tobytes())
    h.update(source_fingerprint().encode())
    facts = {
        "device": torch.device(device).type,
        "torch": str(torch.__version__),
        "threads": torch.get_num_threads(),
        "bf16": bool(cfg.amp_bf16),
    }
    h.update(json.dumps(facts, sort_keys=True).encode())
    return h.hexdigest()[:16]


def restore(
    work_dir: Path, fp: str, fresh: Callable[[], TrainState], task: str = "model"
) -> TrainState:
    """The training to continue in ``work_dir``: the last epoch's resume state, else the one
    before, else ``fresh()`` (a new training, epoch 0). A state that reads but does not restore
    (e.g. another device's RNG state) is set aside too."""
    for path in (work_dir / RESUME, work_dir / PREVIOUS):
        state = read_resume_state(path, fp, work_dir)
        if state is None:
            continue
        s = fresh()
        try:
            _load(s, state)
        except Exception as e:  # noqa: BLE001 - any failure: put it aside, never a dead end
            set_aside(path, f"does not restore ({type(e).__name__}: {first_line(e)})")
            continue
        log.info("resuming %s training from epoch %d (%s)", task, s.epoch, path)
        return s
    return fresh()


def _load(s: TrainState, state: dict) -> None:
    lr = s.opt.param_groups[0]["lr"]
    lr_device = lr.device if isinstance(lr, torch.Tensor) else None  # capturable Adam (CUDA graph)
    s.model.load_state_dict(state["model"])
    s.opt.load_state_dict(state["optimizer"])
    if lr_device is not None:  # keep the LR a device tensor, which the captured step reads
        for group in s.opt.param_groups:
            group["lr"] = torch.tensor(float(group["lr"]), device=lr_device)
    s.sched.load_state_dict(state["lr_scheduler"])
    if s.ema is not None:
        s.ema.load_state_dict(state["ema"])
    s.g_perm.set_state(state["g_perm"])
    s.g_noise.set_state(state["g_noise"])  # another device's RNG state fails here
    s.history = list(state["history"])
    s.epoch = int(state["epoch"])


def save(work_dir: Path, fp: str, s: TrainState) -> None:
    """Write ``work_dir/resume.pt`` atomically, the one before kept as ``resume.prev.pt``."""
    keep_previous(work_dir / RESUME, work_dir / PREVIOUS)  # a torn new state falls back to it
    torch_save(
        {
            "fingerprint": fp,
            "epoch": s.epoch,
            "model": s.model.state_dict(),
            "optimizer": s.opt.state_dict(),
            "lr_scheduler": s.sched.state_dict(),
            "ema": s.ema.state_dict() if s.ema is not None else None,
            "g_perm": s.g_perm.get_state(),
            "g_noise": s.g_noise.get_state(),
            "history": s.history,
        },
        work_dir / RESUME,
    )


def set_aside(path: Path, why: str) -> Path:
    """Rename an unusable resume state to ``<name>.bad-<UTC time>`` beside it (never deleted: a
    person may want to look at it) and say so in one log line."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.bad-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.bad-{stamp}-{n}")
    os.replace(path, aside)
    log.warning("resume state %s %s: moved aside to %s", path, why, aside.name)
    return aside


def _readable_checkpoint(path: Path) -> bool:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - any failure means "not readable"
        return False
    return isinstance(ckpt, dict) and "state_dict" in ckpt


def read_resume_state(path: Path, fp: str, work_dir: Path) -> dict | None:
    """The resume state at ``path`` if training can continue from it, else None.

    Read with ``weights_only=True`` (tensors and plain containers only: a crafted pickle is
    refused, never run) onto the CPU (a CUDA state loads on a CPU node). Unusable -- unreadable
    (torn, empty, not a torch file), a fingerprint of another run (config, code, device type,
    torch version, threads, precision), or an epoch file it relies on that is missing or torn --
    it is moved aside (:func:`set_aside`) and None is returned."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - EOFError, UnpicklingError, RuntimeError, ...
        set_aside(path, f"is unreadable ({type(e).__name__}: {first_line(e)})")
        return None
    if not isinstance(state, dict) or state.get("fingerprint") != fp:
        set_aside(
            path,
            "belongs to another run (config, code, data, device, torch version, threads or "
            "precision)",
        )
        return None
    try:
        epoch = int(state["epoch"])
    except (KeyError, TypeError, ValueError):
        set_aside(path, "has no epoch")
        return None
    missing = [e for e in range(1, epoch + 1) if not _readable_checkpoint(epoch_file(work_dir, e))]
    if missing:
        set_aside(path, f"needs epoch_{missing[0]:03d}.pt, which is missing or unreadable")
        return None
    return state


def keep_previous(path: Path, previous: Path) -> None:
    """Make ``previous`` a copy of ``path`` (a hard link where the file system has them) while
    ``path`` stays in place: a kill at any moment leaves a complete resume state under its name."""
    if not path.exists():
        return
    tmp = previous.with_name(f".{previous.name}.link")
    tmp.unlink(missing_ok=True)
    try:
        os.link(path, tmp)
    except OSError:  # no hard links here: copy
        write_bytes(tmp, path.read_bytes())
    os.replace(tmp, previous)
