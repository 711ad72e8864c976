"""Progress of the long loops (sampling, denoising, DeepFloyd stage II) in the rule's log.

A job script's stderr is its rule's log (:func:`fundiff.io.setup_logging`), so the bars write
to ``sys.stderr`` as it is when the bar starts. A log is a file, not a terminal: tqdm's
carriage-return redraws would pile up in one line, so every redraw becomes its own line, and
at most one every ``MININTERVAL`` seconds besides the first and the last: a 30-minute loop adds
about 60 lines, a loop of a few seconds 2.

Without tqdm installed (a bare GPU box running the benchmarks with torch and numpy only) the
loops run silently.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

try:
    from tqdm import tqdm
except ImportError:
    tqdm = None

MININTERVAL = 30.0  # seconds between two lines of one bar


class LineStream:
    """A text stream for tqdm that writes each redraw as one line (no '\\r', no padding)."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        line = text.replace("\r", "").rstrip()
        if line:
            self.stream.write(line + "\n")

    def flush(self) -> None:
        self.stream.flush()


def bar_options(desc: str, file=None, mininterval: float = MININTERVAL) -> dict:
    """tqdm keywords for a throttled bar named ``desc`` writing lines to ``file`` (default: the
    current ``sys.stderr``). Also what diffusers' ``set_progress_bar_config`` takes."""
    return {
        "desc": desc,
        "file": LineStream(sys.stderr if file is None else file),
        "mininterval": mininterval,
        "miniters": 1,  # check the clock every step; no monitor-thread redraws between lines
        "ascii": True,
        "leave": True,
    }


class _Silent:
    """Stands in for a tqdm bar when tqdm is not installed: iterates, counts nothing."""

    def __init__(self, iterable=None):
        self.iterable = iterable

    def __iter__(self):
        return iter(self.iterable)

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def progress(
    iterable: Iterable | None = None,
    desc: str = "",
    total: int | None = None,
    file=None,
    mininterval: float = MININTERVAL,
    initial: int = 0,
    disable: bool = False,
):
    """A throttled tqdm bar over ``iterable`` (or, without one, ``total`` steps advanced with
    ``update()``, starting at ``initial``: a resumed run), named ``desc``, writing to the rule's
    log. Use it as a context manager (or ``close()`` it) so the last line is written."""
    if tqdm is None or disable:
        return _Silent(iterable)
    opts = bar_options(desc, file, mininterval)
    return tqdm(iterable, total=total, initial=initial, **opts)
