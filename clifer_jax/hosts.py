"""The processes of a multi-host run: joining, the one writer, what they share (docs/scaling.md).

A study on several hosts is one program run by every process (JAX's multi-controller
model). Every process builds the same inputs and takes part in every sharded call;
exactly one process, the *writer* (process 0), writes the run folder and the CAAE store.
The others follow: they read what was finished before the run began and keep what they
compute in memory.

    hosts.join()                       # jax.distributed: auto-detected, or join("host:port", 2, i)
    if hosts.is_writer(): ...          # process 0 (also in a one-process run)
    decision = hosts.from_writer(obj)  # the writer's JSON-able value, on every process

Failures are bounded: joining waits at most `join_timeout_s`; a process that dies (or
stops on an error, which exits it at once: `abort`) stops sending heartbeats, and the
coordination service ends every other process within `heartbeat_timeout_s`.
"""

from __future__ import annotations

import os
import sys

import jax
import numpy as np

from clifer_jax import sharding

JOIN_TIMEOUT_S = 300
HEARTBEAT_TIMEOUT_S = 60


def cluster_launch() -> str | None:
    """The launcher that started this process as one of several, from its environment
    (SLURM's srun, Open MPI's mpirun, a Cloud TPU pod's workers), or None."""
    env = os.environ
    if int(env.get("SLURM_NTASKS", "1") or 1) > 1 and "SLURM_STEP_ID" in env:
        return "SLURM"
    if int(env.get("OMPI_COMM_WORLD_SIZE", "1") or 1) > 1:
        return "Open MPI"
    if len([h for h in env.get("TPU_WORKER_HOSTNAMES", "").split(",") if h]) > 1:
        return "TPU pod"
    return None


def join(coordinator: str | None = None, num_processes: int | None = None, process_id: int | None = None,
         *, join_timeout_s: int = JOIN_TIMEOUT_S, heartbeat_timeout_s: int = HEARTBEAT_TIMEOUT_S) -> None:
    """Join the run's processes (`jax.distributed.initialize`) before anything touches a
    device. With no address JAX detects the cluster (SLURM, Open MPI, TPU pods)."""
    if join_timeout_s < 1 or heartbeat_timeout_s < 1:
        raise ValueError(f"timeouts must be >= 1 s, got join {join_timeout_s}, heartbeat {heartbeat_timeout_s}")
    if num_processes is not None and num_processes < 1:
        raise ValueError(f"--num-processes must be >= 1, got {num_processes}")
    if process_id is not None and num_processes is not None and not 0 <= process_id < num_processes:
        raise ValueError(f"--process-id must be in 0..{num_processes - 1}, got {process_id}")
    sharding.initialize(coordinator, num_processes, process_id, initialization_timeout=int(join_timeout_s),
                        heartbeat_timeout_seconds=int(heartbeat_timeout_s))


def count() -> int:
    return jax.process_count()


def index() -> int:
    return jax.process_index()


def is_writer() -> bool:
    """Whether this process writes the run's files: process 0."""
    return jax.process_index() == 0


def from_writer(obj):
    """The writer's value of a JSON-able `obj`, on every process (each passes its own; the
    others' are ignored). Every process must call it at the same point of the program."""
    if jax.process_count() == 1:
        return obj
    import json

    from jax.experimental import multihost_utils

    data = np.frombuffer(json.dumps(obj).encode(), np.uint8) if is_writer() else np.zeros(0, np.uint8)
    size = int(multihost_utils.broadcast_one_to_all(np.int32(data.size)))
    buf = np.zeros(size, np.uint8)
    buf[:data.size] = data[:size]
    got = np.asarray(multihost_utils.broadcast_one_to_all(buf))
    return json.loads(got.tobytes().decode())


def orbax_options():
    """Orbax options that keep a checkpoint operation within this process: the writer saves
    alone and every process restores alone, with no barrier across processes."""
    import orbax.checkpoint as ocp

    if jax.process_count() == 1:
        return ocp.options.MultiprocessingOptions()
    pid = jax.process_index()
    return ocp.options.MultiprocessingOptions(primary_host=pid, active_processes={pid})


def abort(message: str, code: int = 2) -> None:
    """Stop this process of a multi-process run at once with `message` on stderr: no
    shutdown barrier, so the others learn of it within the heartbeat timeout instead of
    waiting for this process in a collective."""
    print(message, file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(code)
