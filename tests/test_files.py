"""Writing outputs: all at once, with ordinary permissions, and nothing left behind on failure."""

from __future__ import annotations

import os
import stat

import pytest

from qvl_widget._files import write_atomically


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_written_files_get_the_permissions_of_a_plain_open(tmp_path, umask_022):
    path = write_atomically(tmp_path / "nested" / "out.bin", lambda handle: handle.write(b"data"))
    assert path.read_bytes() == b"data"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # readable by a web server or the group, as open() gives
    os.umask(0o077)
    private = write_atomically(tmp_path / "private.bin", lambda handle: handle.write(b"x"))
    assert stat.S_IMODE(private.stat().st_mode) == 0o600


def test_a_failed_write_leaves_nothing(tmp_path):
    def fail(handle):
        handle.write(b"half")
        raise RuntimeError("disk on fire")

    (tmp_path / "out.bin").write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_atomically(tmp_path / "out.bin", fail)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.bin"]
    assert (tmp_path / "out.bin").read_bytes() == b"old"


def test_a_folder_in_the_way_is_a_clear_error_and_leaves_nothing(tmp_path):
    (tmp_path / "result.npz").mkdir()
    with pytest.raises(IsADirectoryError, match="is a folder; pass a file path inside it"):
        write_atomically(tmp_path / "result.npz", lambda handle: handle.write(b"x"))
    assert [path.name for path in tmp_path.iterdir()] == ["result.npz"]
    assert list((tmp_path / "result.npz").iterdir()) == []


def test_a_failed_rename_leaves_no_temporary_file(tmp_path, monkeypatch):
    def refuse(source, destination):
        raise PermissionError("rename refused")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PermissionError, match="rename refused"):
        write_atomically(tmp_path / "out.bin", lambda handle: handle.write(b"x"))
    assert list(tmp_path.iterdir()) == []
