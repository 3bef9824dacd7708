"""Atomic writes: temporary file, rename, the umask's mode, no race on the umask."""

import os
import stat
import threading

from fashionclf._utils.atomic import atomic_write


def test_writes_via_a_temporary_file_with_the_umask_mode(tmp_path):
    target = atomic_write(tmp_path / "f.txt", lambda tmp: tmp.write_text("x"))
    assert target.read_text() == "x"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_the_umask_is_never_changed_while_other_threads_write(tmp_path):
    # reading the umask by setting it to 0 and back let a file written by another
    # thread in between come out world-writable (0666)
    old = os.umask(0o022)
    stop, modes = threading.Event(), []

    def other_writer():
        i = 0
        while not stop.is_set():
            path = tmp_path / f"other-{i % 50}"
            fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o666)
            os.close(fd)
            modes.append(stat.S_IMODE(os.stat(path).st_mode))
            path.unlink()
            i += 1

    thread = threading.Thread(target=other_writer)
    thread.start()
    try:
        for i in range(300):
            atomic_write(tmp_path / f"mine-{i % 10}", lambda tmp: tmp.write_text("x"))
    finally:
        stop.set()
        thread.join(5)
        os.umask(old)
    assert modes and set(modes) == {0o644}
