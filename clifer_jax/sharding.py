"""The subject axis sharded over devices and hosts (docs/scaling.md).

Every per-subject kernel of clifer-jax is a pure function of one subject's (or one
network's) arrays, so a batch is `vmap(fn)`. Across devices it is the same `vmap`
run by each device on its own block of subjects: `shard_map` over a one-axis
`Mesh` (axis ``"subjects"``). Devices do not communicate while they compute.

    mesh = subject_mesh()                                  # every device of every host
    states = map_subjects(init_fn, xs0, mesh=mesh)         # [S, ...] built on the devices
    states = map_subjects(train_fn, states, xs, mesh=mesh) # stays sharded between calls
    host = gather(states)                                  # numpy, on every process

A subject count S that is not a multiple of the device count is padded (the last
subject repeated) and the extra rows are cut off again, so callers never see them.

Results equal the single-device `vmap` in everything discrete (topology, BMUs,
labels); floats can differ in the last bit, because XLA compiles each vmap batch
size separately (docs/scaling.md).

Several hosts: call `initialize()` in every process first (it is
`jax.distributed.initialize`), give every process the same inputs, and use the
default mesh (all global devices). Each process places and computes only its own
devices' blocks; `gather` brings the full result to every process.
"""

from __future__ import annotations

import functools
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

AXIS = "subjects"


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, **kwargs) -> None:
    """Join a multi-host JAX run (`jax.distributed.initialize`); a no-op if already joined.

    With no arguments JAX detects the cluster (TPU pods, SLURM, Open MPI, ...).
    Must run before anything else touches a device.
    """
    if jax.distributed.is_initialized():
        return
    jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                               process_id=process_id, **kwargs)


def subject_mesh(devices: int | Sequence | None = None, axis: str = AXIS) -> Mesh:
    """A one-axis mesh (named `axis`: "subjects", or "batch" for the CAAE) over `devices`.

    devices: None for every device of every process (`jax.devices()`), an int n for
    the first n of `jax.devices()` (global order: on several hosts n must reach
    every process), or an explicit sequence of devices.
    """
    all_devices = jax.devices()
    if devices is None:
        chosen = all_devices
    elif isinstance(devices, (int, np.integer)):
        if not 1 <= devices <= len(all_devices):
            raise ValueError(f"devices={devices}: {len(all_devices)} device(s) available "
                             f"({jax.process_count()} process(es))")
        chosen = all_devices[:devices]
    else:
        chosen = list(devices)
        if not chosen:
            raise ValueError("devices: an empty sequence")
    if jax.process_count() > 1 and {d.process_index for d in chosen} != set(range(jax.process_count())):
        raise ValueError("a multi-host mesh must include devices of every process")
    return Mesh(np.array(chosen), (axis,))


def padded_size(size: int, mesh: Mesh) -> int:
    """The smallest multiple of the mesh's device count that holds `size` subjects."""
    n = mesh.devices.size
    return -(-size // n) * n


def _pad_rows(a, total: int):
    extra = total - a.shape[0]
    if extra == 0:
        return a
    xp = np if isinstance(a, np.ndarray) else jnp
    return xp.concatenate([a, xp.repeat(a[-1:], extra, axis=0)])


@functools.lru_cache(maxsize=128)
def _compiled(fn: Callable, mesh: Mesh, in_axes: tuple, size: int):
    """jit(pad → shard_map(vmap(fn)) → trim) for one (fn, mesh, in_axes, S)."""
    total = padded_size(size, mesh)
    specs = tuple(P(AXIS) if ax == 0 else P() for ax in in_axes)
    # check_vma=False: scan carries that start device-invariant (zeros) become per-subject.
    body = jax.shard_map(jax.vmap(fn, in_axes=in_axes), mesh=mesh, in_specs=specs,
                         out_specs=P(AXIS), check_vma=False)

    def run(*args):
        # Inputs arrive padded by `_place`, except global arrays from an earlier call
        # (S rows): those are padded here.
        args = tuple(jax.tree.map(lambda a: _pad_rows(a, total), a) if ax == 0 else a
                     for a, ax in zip(args, in_axes))
        out = body(*args)
        return out if total == size else jax.tree.map(lambda o: o[:size], out)

    return jax.jit(run)


def _place(tree, mesh: Mesh, mapped: bool, total: int):
    """Put host values and single-device arrays where the compiled function wants them:
    mapped ones padded to `total` rows and split over the mesh, shared ones replicated.
    Arrays that already span the mesh (an earlier call's outputs) pass through."""
    sharding = NamedSharding(mesh, P(mesh.axis_names[0]) if mapped else P())
    multi = jax.process_count() > 1

    def put(a):
        if isinstance(a, jax.Array) and (not a.is_fully_addressable or a.sharding == sharding):
            return a
        if isinstance(a, jax.Array) and jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
            return jax.random.wrap_key_data(put(jax.random.key_data(a)), impl=jax.random.key_impl(a))
        if isinstance(a, jax.Array) and len(a.devices()) > 1 and not multi:
            return a                                       # spread over devices already: jit reshards
        if mapped:
            a = _pad_rows(np.asarray(a) if multi else a, total)
        if not multi:
            return jax.device_put(a, sharding)
        a = np.asarray(a)                                  # every process holds the same values
        return jax.make_array_from_callback(a.shape, sharding, lambda idx: a[idx])

    return jax.tree.map(put, tree)


def map_subjects(fn: Callable, *args, in_axes: int | None | Sequence = 0,
                 mesh: Mesh | None = None):
    """`vmap(fn)(*args)` with the mapped axis sharded over `mesh` (default: all devices).

    fn: a pure per-subject function. Pass the *same* function object on every call:
    compilations are cached per (function, mesh, in_axes, subject count), and a new
    lambda each call would compile each time.
    in_axes: 0 (the leading axis is the subject axis) or None (shared by all
    subjects), for each positional argument (a pytree each) or one for all.
    Returns fn's outputs with a leading subject axis, as global jax.Arrays: sharded
    by subject when S is a multiple of the device count; otherwise the last rows are
    padding that is cut off, and the trimmed result (which cannot be split evenly) is
    gathered onto every device — pad S yourself (`padded_size`) to avoid that copy
    for large states.
    """
    if not args:
        raise ValueError("map_subjects needs at least one argument")
    axes = tuple(in_axes) if isinstance(in_axes, (tuple, list)) else (in_axes,) * len(args)
    if len(axes) != len(args) or not all(ax is None or (type(ax) is int and ax == 0) for ax in axes):
        raise ValueError(f"in_axes must be 0 or None for each of the {len(args)} arguments, got {in_axes!r}")
    sizes = {leaf.shape[0] if np.ndim(leaf) else None
             for a, ax in zip(args, axes) if ax == 0 for leaf in jax.tree.leaves(a)}
    if not sizes:
        raise ValueError("map_subjects: no argument is mapped (in_axes all None)")
    if len(sizes) != 1 or None in sizes:
        raise ValueError(f"mapped arguments must share one leading subject axis; got sizes {sizes}")
    size = sizes.pop()
    if size < 1:
        raise ValueError("map_subjects: zero subjects")
    mesh = mesh if mesh is not None else subject_mesh()
    total = padded_size(size, mesh)
    placed = tuple(_place(a, mesh, ax == 0, total) for a, ax in zip(args, axes))
    return _compiled(fn, mesh, axes, size)(*placed)


def gather(tree):
    """A pytree of (possibly multi-host) arrays → numpy, the full arrays on every process."""
    if jax.process_count() == 1:
        return jax.tree.map(np.asarray, tree)
    from jax.experimental import multihost_utils
    return jax.tree.map(lambda a: np.asarray(multihost_utils.process_allgather(a, tiled=True)), tree)


def replicate(tree, mesh: Mesh):
    """A pytree of host or single-device arrays as global arrays replicated on every device
    of `mesh` (on several hosts every process passes the same values)."""
    return _place(tree, mesh, False, 0)


def split(tree, mesh: Mesh):
    """A pytree of arrays split along their leading axis over `mesh` (its length a multiple
    of the device count; every process passes the same full values)."""
    n = mesh.devices.size
    bad = {leaf.shape[0] for leaf in jax.tree.leaves(tree) if leaf.shape[0] % n}
    if bad:
        raise ValueError(f"split: leading axes {sorted(bad)} are not multiples of the {n} devices")
    return jax.tree.map(lambda a: _place(a, mesh, True, a.shape[0]), tree)


def local_copy(tree):
    """A pytree of replicated global arrays as numpy (this process's replica): what a
    single process can save. Other leaves pass through."""
    def one(a):
        if isinstance(a, jax.Array) and not a.is_fully_addressable:
            return np.asarray(a.addressable_data(0))
        return np.asarray(a) if isinstance(a, jax.Array) else a
    return jax.tree.map(one, tree)
