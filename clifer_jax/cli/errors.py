"""One error path for the command line: expected failures become `clifer: error: …`
(exit 2), Ctrl-C becomes `clifer: interrupted …` (exit 130); anything else is a bug and
keeps its traceback. docs/troubleshooting.md lists the messages and what to do.
"""

from __future__ import annotations

import errno
import signal
import sys
from typing import Callable

from clifer_jax.study.store import StudyError

# OS errors that are the user's situation, not a bug: missing or unreadable paths,
# permissions, a full or read-only disk.
_USER_ERRNOS = {errno.ENOENT, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC,
                errno.EDQUOT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST}

_HINTS = {
    errno.EACCES: "check the folder's permissions or choose another --out / --data-dir",
    errno.EPERM: "check the folder's permissions or choose another --out / --data-dir",
    errno.EROFS: "the file system is read-only: choose another --out / --data-dir",
    errno.ENOSPC: "the disk is full: free space or choose another --out / --data-dir",
    errno.EDQUOT: "the disk quota is exceeded: free space or choose another --out / --data-dir",
}


def user_message(exc: BaseException) -> str | None:
    """The one-line message of an expected failure, or None for a bug."""
    if isinstance(exc, (StudyError, ValueError)):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno in _USER_ERRNOS:
        what = exc.filename if exc.filename is not None else ""
        text = f"{exc.strerror or exc}: {what}".rstrip(": ")
        hint = _HINTS.get(exc.errno)
        return f"{text}; {hint}" if hint else text
    if isinstance(exc, FileNotFoundError):   # raised with a message, no errno
        return str(exc)
    return None


class _Interrupts:
    """Ctrl-C that cannot be swallowed. A KeyboardInterrupt raised while Python runs a
    garbage-collection callback (JAX registers one) is printed as "Exception ignored" and
    lost; so after the first SIGINT a timer raises it again every `every` seconds until
    `guarded` has caught it."""

    def __init__(self, every: float = 0.25):
        self.every, self.pending, self.caught = every, False, False
        self._old: dict = {}

    def _raise(self, signum, frame):
        if signum == signal.SIGINT:
            self.pending = True
            signal.setitimer(signal.ITIMER_REAL, self.every, self.every)
        if self.pending and not self.caught:
            raise KeyboardInterrupt

    def __enter__(self):
        import threading

        if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGALRM):
                self._old[s] = signal.signal(s, self._raise)
        return self

    def __exit__(self, *exc):
        self.caught = True
        if self._old:
            signal.setitimer(signal.ITIMER_REAL, 0)
            for s, h in self._old.items():
                signal.signal(s, h)
        return False


def guarded(fn: Callable[[], int | None], *, prog: str = "clifer", resume_hint: str = "") -> int:
    """Run `fn`; its exit status (None: 0) on success, 2 with `prog: error: …` for an expected failure, 130 with
    a message on Ctrl-C. Other exceptions propagate (bugs keep their traceback)."""
    interrupts = _Interrupts()
    try:
        with interrupts:
            rc = fn()
    except KeyboardInterrupt:
        interrupts.caught = True
        print(f"{prog}: interrupted{'; ' + resume_hint if resume_hint else ''}", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - filtered: bugs are re-raised
        msg = user_message(e)
        if msg is None:
            raise
        if sys.stderr.isatty():      # a progress bar may hold the line: start a fresh one
            sys.stderr.write("\n")
        print(f"{prog}: error: {msg}", file=sys.stderr)
        return 2
    return 0 if rc is None else rc
