"""Trained CAAEs kept once per machine, keyed by what makes them (docs/caae.md, "The CAAE
store").

A CAAE is a function of its config, its training pool and its seed. The store keeps each
finished training in a folder named by that fingerprint, so every run, sweep, seed study
and `train_caae` that needs the same CAAE restores it instead of training it again:

    params, entry = store.load_or_train(config, pool, seed)    # trains only the first time
    store.entries()                                             # what is kept
    store.remove(["cpu-seed0-3f2a9c1b7d04"])

The root is `$CLIFER_CAAE_STORE` if set, else `$XDG_CACHE_HOME/clifer-jax/caae` (default
`~/.cache/clifer-jax/caae`); `clifer --caae-store DIR` names another. An entry is an orbax
checkpoint folder (`caae.train`) plus `entry.json`; an unfinished training resumes there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from clifer_jax import hosts
from clifer_jax.caae.api import CAAEParams
from clifer_jax.caae.config import CAAEConfig
from clifer_jax.caae.pool import identity_dir, load_or_train as train_into
from clifer_jax.caae.train import _config_dict, data_fingerprint, restore_params

ENV = "CLIFER_CAAE_STORE"
ENTRY_FILE = "entry.json"


def default_root() -> Path:
    """Where the store lives unless told: $CLIFER_CAAE_STORE, else the user's cache folder."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "clifer-jax" / "caae"


def fingerprint(config: CAAEConfig, data_sha256: str, seed: int) -> str:
    """SHA-256 of (config, pool data hash, seed): what a checkpoint's metadata guards."""
    key = json.dumps({"config": _config_dict(config), "data_sha256": data_sha256, "seed": int(seed)},
                     sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()


def entry_name(config: CAAEConfig, data_sha256: str, seed: int) -> str:
    """`<preset>-seed<seed>-<first 12 hex digits of the fingerprint>`."""
    return f"{config.name}-seed{int(seed)}-{fingerprint(config, data_sha256, seed)[:12]}"


@dataclasses.dataclass(frozen=True)
class Entry:
    """One stored CAAE: its folder, what made it, how far it trained, its size."""
    name: str
    path: Path
    preset: str
    seed: int | None
    data_sha256: str
    done: bool
    epochs_done: int
    epochs: int | None
    train_seconds: float | None
    bytes: int
    modified: float


def _root(root) -> Path:
    return default_root() if root is None else Path(root).expanduser()


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive flock on `<entry>.lock` while one process trains an entry (another
    waits, then restores what it trained)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _finished(config: CAAEConfig, path: Path, seed: int, data_sha256: str) -> CAAEParams | None:
    try:
        params, meta = restore_params(config, str(path))
    except (FileNotFoundError, ValueError):
        return None
    ok = meta.get("done") and meta.get("seed") == seed and meta.get("data_sha256") == data_sha256
    return params if ok else None


def load_or_train(config: CAAEConfig, pool: dict, seed: int, root=None, *, progress: bool = True,
                  log=print, mesh=None) -> tuple[CAAEParams, Path]:
    """The CAAE `config` trained with `seed` on `pool` ({"image", "expression"[, "subject"]}):
    restored from the store when a finished training of the same fingerprint is there, else
    trained (an unfinished one resumed) into it. Says which in one line (`log`). Returns
    (params, the entry's folder). mesh: train data-parallel over its devices; on several
    processes all train (or restore) together and only the writer writes the entry."""
    sha = data_fingerprint(config, pool["image"], pool["expression"])
    path = _root(root) / entry_name(config, sha, seed)
    with _locked(path) if hosts.is_writer() else contextlib.nullcontext():
        params = _finished(config, path, seed, sha)
        if hosts.from_writer(params is not None):    # every process follows the writer's reading
            if params is None:
                raise RuntimeError(f"{path} is finished for process 0 but not readable here: the CAAE "
                                   f"store must be on a file system every process shares")
            log(f"CAAE: reusing the stored {path.name} ({path.parent})")
            return params, path
        log(f"CAAE: training {config.name} (seed {seed}) into the store: {path}")
        t0 = time.perf_counter()
        params = train_into(config, str(path), seed=seed, data=pool, progress=progress, mesh=mesh)
        if hosts.is_writer():
            _write_entry(path, config, seed, sha, time.perf_counter() - t0)
    return params, path


def _write_entry(path: Path, config: CAAEConfig, seed: int, sha: str, seconds: float) -> None:
    info = {"preset": config.name, "seed": int(seed), "data_sha256": sha,
            "fingerprint": fingerprint(config, sha, seed), "train_seconds": round(seconds, 1),
            "config": _config_dict(config)}
    (path / ENTRY_FILE).write_text(json.dumps(info, indent=2, sort_keys=True))


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def entries(root=None) -> list[Entry]:
    """Every entry of the store, newest first (an unfinished or foreign folder too)."""
    base = _root(root)
    if not base.is_dir():
        return []
    out = []
    for path in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.endswith("_identity_net")):
        info = {}
        if (path / ENTRY_FILE).is_file():
            info = json.loads((path / ENTRY_FILE).read_text())
        meta = _meta(path)
        epochs = (meta.get("config") or {}).get("epochs")
        out.append(Entry(name=path.name, path=path, preset=info.get("preset") or (meta.get("config") or {}).get(
                             "name", "?"),
                         seed=meta.get("seed", info.get("seed")), data_sha256=meta.get("data_sha256", ""),
                         done=bool(meta.get("done")), epochs_done=len(meta.get("history") or []),
                         epochs=epochs, train_seconds=info.get("train_seconds"),
                         bytes=_size(path) + (_size(Path(identity_dir(str(path))))
                                              if Path(identity_dir(str(path))).is_dir() else 0),
                         modified=path.stat().st_mtime))
    return sorted(out, key=lambda e: -e.modified)


def _meta(path: Path) -> dict:
    """A checkpoint folder's metadata without knowing its config (the newest step's JSON)."""
    steps = sorted((p for p in path.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))
    for step in reversed(steps):
        for f in step.rglob("*"):
            if f.is_file() and f.parent.name == "meta":
                try:
                    return json.loads(f.read_text())
                except (ValueError, UnicodeDecodeError):
                    continue
    return {}


def remove(names, root=None) -> list[Path]:
    """Delete the named entries (and their identity networks); ValueError names a missing
    one before anything is deleted."""
    base = _root(root)
    paths = [base / n for n in names]
    missing = [p.name for p in paths if not p.is_dir()]
    if missing:
        raise ValueError(f"no stored CAAE named {', '.join(missing)} in {base} (`clifer caae list` shows them)")
    for p in paths:
        shutil.rmtree(p)
        shutil.rmtree(identity_dir(str(p)), ignore_errors=True)
        p.with_name(p.name + ".lock").unlink(missing_ok=True)
    return paths
