"""A study's run folder: its config, a lock, checkpointed units of work and timings.

    store = Store("runs/default", cfg)          # refuses a folder of another configuration
    if not store.has("features"):
        store.save("features", feats)            # atomic: orbax checkpoint + `done` marker

Every stage of a run (the CAAE, the features, one unit per model and order) is saved as it
finishes, so an interrupted run resumes without redoing finished work.

On several processes (`clifer_jax.hosts`) only the writer writes the folder; the others
open it as followers: they see the units finished when the run began, and what they
compute in this run stays in their memory.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp

from clifer_jax import hosts


class StudyError(RuntimeError):
    """A study that cannot go on (bad config, missing data); the message says what to do."""


class RunLocked(StudyError):
    """Another process holds the folder's lock."""


class RunLock:
    """An exclusive, non-blocking `flock` on `<root>/.lock`, held until `release()` (or
    the process ends: the kernel drops it, so a killed run never leaves a stale lock)."""

    def __init__(self, root):
        self._fd = None
        self.path = Path(root) / ".lock"
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.read(self._fd, 64).decode(errors="replace").strip() or "another process"
            os.close(self._fd)
            self._fd = None
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


class Store:
    """The output folder: config.json, orbax checkpoints of finished units, timings."""

    def __init__(self, out_dir, config: dict, defaults: dict | None = None, *,
                 follow: set[str] | None = None):
        """config: the run's resolved config (JSON-ready). A folder made earlier must hold
        the same; a setting it lacks (added to the library since) counts as its value in
        `defaults`. follow: open as a follower that writes nothing (a process of a
        multi-process run other than the writer), `follow` being the units the writer
        found finished."""
        self.root = Path(out_dir).resolve()
        self.writer = follow is None
        self._followed = set(follow or ())
        self._memory: dict[str, dict] = {}
        options = hosts.orbax_options()
        self._ckpt = ocp.Checkpointer(ocp.PyTreeCheckpointHandler(multiprocessing_options=options),
                                      multiprocessing_options=options)
        self._timings_path = self.root / "timings.json"
        if not self.writer:
            self.timings: dict = {}
            self.units = self.root / "units"
            return
        path = self.root / "config.json"
        if path.exists():
            have = _fill(json.loads(path.read_text()), defaults or {})
            if have != config:
                diff = [f"{k}: {a!r} here, {b!r} asked" for k, a, b in _differences(have, config)]
                raise StudyError(f"{self.root} holds a run with another configuration ("
                                 f"{'; '.join(diff[:5])}{'; …' if len(diff) > 5 else ''}); use a new "
                                 f"--out folder")
        self.units = self.root / "units"
        self.units.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text(json.dumps(config, indent=2))
        self.timings: dict = (json.loads(self._timings_path.read_text())
                              if self._timings_path.exists() else {})

    def has(self, name: str) -> bool:
        if not self.writer:
            return name in self._followed or name in self._memory
        return (self.units / name / "done").exists()

    def finished(self) -> list[str]:
        """The names of the finished units in the folder."""
        return sorted(p.parent.name for p in self.units.glob("*/done"))

    def load(self, name: str) -> dict:
        """A finished unit's arrays; StudyError naming the unit and the remedy when its
        checkpoint is missing or cannot be read."""
        if name in self._memory:
            return self._memory[name]
        folder = self.units / name
        remedy = (f"delete {folder} and run the same command again: the unit is recomputed "
                  f"(the rest of the run is kept)")
        if not (folder / "data").exists():
            raise StudyError(f"unit {name!r} is marked finished but its data is missing; {remedy}")
        try:
            return self._ckpt.restore(folder / "data")
        except Exception as e:  # noqa: BLE001 - orbax/tensorstore raise many types for a bad file
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            raise StudyError(f"unit {name!r} cannot be read ({type(e).__name__}: {first[:160]}); "
                             f"{remedy}") from None

    def save(self, name: str, tree: dict) -> None:
        """Atomic: a unit counts as finished only once its `done` marker exists. A
        follower keeps the unit in memory."""
        if jax.process_count() > 1:    # orbax saves no host-local jax.Array on several processes
            tree = jax.tree.map(np.asarray, tree)
        if not self.writer:
            self._memory[name] = tree
            return
        d = self.units / name
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        self._ckpt.save(d / "data", tree)
        (d / "done").write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))

    def timed(self, key: str, fn):
        """fn(), its wall time recorded in timings.json under `key`."""
        t0 = time.perf_counter()
        out = fn()
        self.timings[key] = time.perf_counter() - t0
        if self.writer:
            self._timings_path.write_text(json.dumps(self.timings, indent=2))
        return out

    def check_same_data(self, sha: str, tag: str = "") -> None:
        """The folder's features of cell `tag` (`runner.seed_tag`) were encoded from data with
        this fingerprint (else StudyError); the first call records it."""
        path = self.root / f"data{tag}.sha256"
        if path.exists() and path.read_text().strip() != sha:
            raise StudyError(f"{self.root} holds features of other data (the dataset changed since "
                             f"they were encoded); use a new --out folder")
        if self.writer:
            path.write_text(sha + "\n")

    def write_json(self, name: str, obj: dict) -> Path:
        """`name` in the folder, whole or not at all (a follower writes nothing)."""
        if not self.writer:
            return self.root / name
        tmp = self.root / f"{name}.tmp"
        tmp.write_text(json.dumps(obj, indent=2))
        os.replace(tmp, self.root / name)
        return self.root / name


def open_run(out_dir, config: dict, defaults: dict | None = None) -> tuple[Store, RunLock | None]:
    """The output folder of a run (or sweep) and its lock (held while the lock lives). On
    several processes the writer opens and locks it, then every other process follows
    (no lock); an error opening it reaches every process."""
    if hosts.count() == 1:
        store = Store(out_dir, config, defaults)
        return store, RunLock(store.root)
    store = lock = error = None
    finished: list[str] = []
    if hosts.is_writer():
        try:
            store = Store(out_dir, config, defaults)
            lock = RunLock(store.root)
            finished = store.finished()
        except (StudyError, OSError) as e:
            error = str(e)
    shared = hosts.from_writer({"error": error, "finished": finished})
    if shared["error"] is not None:
        raise StudyError(shared["error"] if hosts.is_writer() else f"the writer (process 0): {shared['error']}")
    if store is None:
        store = Store(out_dir, config, defaults, follow=set(shared["finished"]))
    return store, lock


def _fill(have: dict, defaults: dict) -> dict:
    """`have` with the keys it lacks taken from `defaults`, at every level."""
    out = dict(have)
    for k, v in defaults.items():
        if k not in out:
            out[k] = v
        elif isinstance(v, dict) and isinstance(out[k], dict):
            out[k] = _fill(out[k], v)
    return out


def _differences(a, b, prefix: str = ""):
    """(dotted path, a's value, b's value) of every leaf where two nested dicts differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            yield from _differences(a.get(k), b.get(k), f"{prefix}{k}.")
    elif a != b:
        yield prefix.rstrip("."), a, b


def arrays_sha256(*arrays) -> str:
    """SHA-256 of the images, labels and masks of SubjectArrays (what the features encode)."""
    h = hashlib.sha256()
    for a in arrays:
        for k in ("x", "y", "mask"):
            v = np.ascontiguousarray(np.asarray(getattr(a, k)))
            h.update(repr((k, v.shape, str(v.dtype))).encode())
            h.update(v.tobytes())
    return h.hexdigest()
