"""File operations Lite's storage needs: whole writes, directory syncs, an exclusive lock."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["describe", "fsync_directory", "lock_file", "write_all"]


def describe(exc: OSError) -> str:
    return exc.strerror or str(exc)


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new file durable (POSIX needs the directory itself synced)."""
    if sys.platform == "win32":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def lock_file(fd: int) -> bool:
    if sys.platform == "win32":
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
