"""The reliability test's wall-time mask blanks measured seconds and nothing else."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from tests.helpers.wall_time import mask_wall_times


def _spec(seconds, accuracy):
    return json.dumps(
        {
            "section": "X2",
            "params": {"steps": [20, 5]},
            "data": {
                "columns": ["sampler", "seconds", "accuracy"],
                "rows": [["ddim", seconds, accuracy]],
            },
        }
    ).encode()


def _same(name, a, b):
    return mask_wall_times(Path(name), a) == mask_wall_times(Path(name), b)


def test_json_table_specs():
    assert _same("t.json", _spec(1.5, 0.9), _spec(2.7, 0.9))
    assert not _same("t.json", _spec(1.5, 0.9), _spec(1.5, 0.8))


def test_csv_columns():
    a = b"model,seconds,fd_ratio\nclass_cond,2.39,6.46\n"
    assert _same("t.csv", a, a.replace(b"2.39", b"3.01"))
    assert not _same("t.csv", a, a.replace(b"6.46", b"6.47"))


def _npz(seconds, images):
    buf = io.BytesIO()
    np.savez(buf, seconds=np.float64(seconds), images=images)
    return buf.getvalue()


def test_npz_arrays():
    x = np.zeros((2, 28, 28), np.float32)
    assert _same("s.npz", _npz(1.0, x), _npz(2.0, x))
    assert not _same("s.npz", _npz(1.0, x), _npz(1.0, x + 1))


def _html(seconds, accuracy):
    return (
        '<table class="data measured">\n<thead><tr><th>sampler</th><th>seconds</th>'
        "<th>accuracy</th></tr></thead>\n<tbody>"
        f'<tr><td>ddim</td><td class="num">{seconds}</td><td class="num">{accuracy}</td></tr>'
        "</tbody></table>"
    ).encode()


def test_html_data_tables():
    assert _same("index.html", _html(1.5, 0.9), _html(2.5, 0.9))
    assert not _same("index.html", _html(1.5, 0.9), _html(1.5, 0.8))


def _md(seconds, accuracy):
    return f"**X2**\n\n| sampler | seconds | accuracy |\n|---|---|---|\n| ddim | {seconds} | {accuracy} |\n\nend\n".encode()


def test_markdown_data_tables():
    assert _same("README.md", _md(1.5, 0.9), _md(2.5, 0.9))
    assert not _same("README.md", _md(1.5, 0.9), _md(1.5, 0.8))


def test_other_files_are_compared_as_they_are():
    assert not _same("grid.png", b"\x89PNG a", b"\x89PNG b")
    assert _same("quality_time.png", b"a", b"b")  # a plot of wall times
