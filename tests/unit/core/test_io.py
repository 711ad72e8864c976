import os
import stat

import pytest

from fundiff.io import atomic_path, write_text


def test_atomic_write_has_umask_permissions_not_private(tmp_path):
    old = os.umask(0o022)
    try:
        write_text(tmp_path / "a.txt", "hello")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").read_text() == "hello"
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    (tmp_path / "keep.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "keep.txt") as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert (tmp_path / "keep.txt").read_text() == "old"  # the old file is not lost
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_write_csv_is_tidy_and_leaves_no_temp_file(tmp_path):
    import pandas as pd

    from fundiff.io import write_csv

    path = tmp_path / "t.csv"
    write_csv(pd.DataFrame({"a": [1, 2], "b": [0.123456789, 2.0]}), path)
    assert path.read_text().splitlines() == ["a,b", "1,0.123457", "2,2"]
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]
