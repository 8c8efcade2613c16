"""A run-folder lock: two processes never run into one `--out` at once."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class RunLocked(RuntimeError):
    """Another process holds the folder's lock."""


class RunLock:
    """An exclusive, non-blocking `flock` on `<root>/.lock`, held until `release()` (or
    the process ends: the kernel drops it, so a killed run never leaves a stale lock)."""

    def __init__(self, root):
        self.path = Path(root) / ".lock"
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.read(self._fd, 64).decode(errors="replace").strip() or "another process"
            os.close(self._fd)
            raise RunLocked(f"{Path(root)} is in use by process {other}; wait for it to finish "
                            f"or choose another --out folder") from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, str(os.getpid()).encode())

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __del__(self):
        try:
            self.release()
        except OSError:
            pass
