"""Small I/O helpers: atomic writes, deterministic PNG/GIF/NPZ, logging for Snakemake scripts."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import math
import os
import socket
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    A crash leaves no half-written file under the final name (the temp file is removed). The
    temp file is fsynced before the rename and the folder after it, so that after a power loss
    ``path`` holds the old bytes or the new ones, never a torn or empty file. The file gets the
    usual permissions (0666 less the umask), not mkstemp's private 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        _fsync(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    # the rename is durable once its folder is; a file system that cannot sync a folder (some
    # network mounts, Windows) is left as it is
    with contextlib.suppress(OSError):
        _fsync(path.parent)


def _fsync(path) -> None:
    """Flush a file's (or a folder's) data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes(path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path, text: str) -> None:
    write_bytes(path, text.encode())


def torch_save(obj, path) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    write_bytes(path, buf.getvalue())


def json_safe(value):
    """The one JSON sanitiser of the pipeline: NaN -> None, +-inf -> "inf" / "-inf" (strict JSON
    has neither), numpy scalars and arrays -> Python numbers and lists, tuples -> lists;
    recursive through dicts and lists."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def write_json(path, obj) -> None:
    """``obj`` through :func:`json_safe` as indented, key-sorted strict JSON (atomic)."""
    write_text(path, json.dumps(json_safe(obj), indent=1, sort_keys=True, allow_nan=False) + "\n")


def write_csv(df, path) -> None:
    """A pandas DataFrame as a tidy CSV (no index, 6 significant digits), written atomically."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")


def save_npz(path, **arrays) -> None:
    """np.savez_compressed with fixed zip timestamps (byte-identical for identical arrays)."""
    import zipfile

    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(arrays):
                buf = io.BytesIO()
                np.save(buf, np.asarray(arrays[name]), allow_pickle=False)
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, buf.getvalue())


def sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def setup_logging(log_path: str | None) -> logging.Logger:
    """Send stderr (tqdm, warnings, tracebacks) and a logger to the rule's log file."""
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        sys.stderr = open(log_path, "w", buffering=1)  # noqa: SIM115 - lives for the script
    sys.excepthook = _excepthook
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        force=True,
    )
    log = logging.getLogger("fundiff")
    # Where the job ran and which GPUs the scheduler gave it (Slurm sets CUDA_VISIBLE_DEVICES).
    log.info(
        "host %s, CUDA_VISIBLE_DEVICES=%s, SLURM_JOB_ID=%s",
        socket.gethostname(),
        os.environ.get("CUDA_VISIBLE_DEVICES", "unset"),
        os.environ.get("SLURM_JOB_ID", "none"),
    )
    return log


def _excepthook(exc_type, exc, tb) -> None:
    """UserError -> the one line ``error: <message>``; anything else -> the full traceback."""
    from fundiff.errors import UserError, first_line

    if isinstance(exc, UserError):
        print(f"error: {first_line(exc)}", file=sys.stderr)
        sys.stderr.flush()
    else:
        sys.__excepthook__(exc_type, exc, tb)
