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


def test_atomic_write_fsyncs_the_file_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    """Power loss after an atomic write leaves the old or the new bytes, never a torn file: the
    temp file's data is on disk before the rename, the rename is on disk after the folder sync."""
    import fundiff.io as fio

    events, real_fsync, real_replace = [], os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.path.realpath(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(fio.os, "fsync", fsync)
    monkeypatch.setattr(fio.os, "replace", replace)
    fio.write_bytes(tmp_path / "a.bin", b"data")
    assert [e[0] for e in events] == ["fsync", "replace", "fsync"]
    assert events[0][1].startswith(str(tmp_path / ".a.bin."))  # the temp file
    assert events[2][1] == str(tmp_path)  # its folder
    assert (tmp_path / "a.bin").read_bytes() == b"data"


def test_atomic_write_on_a_folder_that_cannot_sync_still_writes(tmp_path, monkeypatch):
    import fundiff.io as fio

    real_fsync = os.fsync

    def fsync(fd):
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            raise OSError(22, "Invalid argument")  # e.g. some network file systems
        real_fsync(fd)

    monkeypatch.setattr(fio.os, "fsync", fsync)
    fio.write_text(tmp_path / "b.txt", "ok")
    assert (tmp_path / "b.txt").read_text() == "ok"
