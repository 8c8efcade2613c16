"""Many settings of one model in one compiled call: `jit(vmap(vmap(run)))` over grid points
and subjects (docs/study.md, "Sweeps").

    points = [GDMParams(episodic=GWRParams(activity_threshold=a)) for a in (0.3, 0.4)]
    preds = run_grid(run, keys, data, orders, imagine_params, stack(points))
    # preds[memory]: [P, S, T, C, Lt]

A grid point is a (params, class order, PRNG keys) triple: all three are traced, so
every point shares one compilation. Static settings (capacities, epochs, batch size,
context depth) cannot vary within a grid: a sweep over them is separate runs.
"""

from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np

from clifer_jax import sharding


def stack(trees):
    """A list of pytrees of the same structure -> one pytree with a leading axis."""
    trees = list(trees)
    if not trees:
        raise ValueError("stack: no grid points")
    return jax.tree.map(lambda *leaves: jnp.stack([jnp.asarray(x) for x in leaves]), *trees)


def grid(axes: dict[str, list]) -> list[dict]:
    """The full grid over `axes` ({path: values}), first path varying slowest."""
    if not axes:
        return [{}]
    names = list(axes)
    for n, vals in axes.items():
        if not len(vals):
            raise ValueError(f"grid axis {n!r} has no values")
    return [dict(zip(names, combo)) for combo in itertools.product(*(axes[n] for n in names))]


def _point_fn(run):
    """One grid point, every subject: vmap over (keys, data), shared order, imagine_params."""
    subjects = jax.vmap(run, in_axes=(0, 0, None, None, None))

    def point(params, keys, order, data, imagine_params):
        return subjects(keys, data, order, imagine_params, params)

    return point


@functools.lru_cache(maxsize=32)
def _compiled(run, point_batch: int | None = None):
    """One compiled `jit(vmap(vmap(run)))` per run function (points outside, subjects inside).
    With point_batch, the points run `point_batch` at a time (`lax.map` over vmapped
    chunks): still one compiled call, with the memory of `point_batch` points."""
    point = _point_fn(run)
    if point_batch is None:
        return jax.jit(jax.vmap(point, in_axes=(0, 0, 0, None, None)))

    def chunked(params, keys, orders, data, imagine_params):
        return jax.lax.map(lambda t: point(*t, data, imagine_params), (params, keys, orders),
                           batch_size=point_batch)

    return jax.jit(chunked)


@functools.lru_cache(maxsize=32)
def _sharded_point(run):
    return _point_fn(run)


def run_grid(run, keys: jax.Array, data, orders, imagine_params, params, devices=None,
             point_batch: int | None = None) -> dict:
    """Run `run` (from `study.models.make_run`) at every grid point.

    keys [P, S] PRNG keys (one per point and subject), data: `SubjectData` with a leading
    subject axis S (shared by every point), orders [P, T] int class orders, params: a
    pytree with a leading axis P (e.g. `stack` of `GDMParams`; None for models without
    params), imagine_params shared. devices: None (the default device), an int n or a
    sequence; with several, grid points are sharded over them
    (`clifer_jax.sharding.map_subjects`: each device vmaps its block of points over all
    subjects). point_batch: run that many points at a time inside the one compiled call
    (bounds memory: a model whose step is large, e.g. CLIFER's imagination through the
    CAAE, needs point_batch × subjects × its per-subject memory; single device only).
    Returns numpy arrays with leading [P, S] on every process.
    """
    orders = jnp.asarray(orders, jnp.int32)
    if orders.ndim != 2:
        raise ValueError(f"orders must be [P, T], got shape {orders.shape}")
    p = orders.shape[0]
    if tuple(keys.shape[:1]) != (p,) or keys.ndim != 2:
        raise ValueError(f"keys must be [P={p}, S], got shape {keys.shape}")
    for leaf in jax.tree.leaves(params):
        if np.shape(leaf)[:1] != (p,):
            raise ValueError(f"params leaves need a leading grid axis of {p}, got shape {np.shape(leaf)}")
    if point_batch is not None and (isinstance(point_batch, bool) or not isinstance(point_batch, int)
                                    or point_batch < 1):
        raise ValueError(f"point_batch must be a positive int or None, got {point_batch!r}")
    mesh = None if devices is None else sharding.subject_mesh(devices)
    if mesh is None or mesh.devices.size == 1:
        batch = None if point_batch is None or point_batch >= p else point_batch
        out = _compiled(run, batch)(params, keys, orders, data, imagine_params)
    elif point_batch is not None:
        raise ValueError("point_batch works on one device; with several, the points are split "
                         "over the devices (use fewer points per call to bound memory)")
    else:
        out = sharding.map_subjects(_sharded_point(run), params, keys, orders, data, imagine_params,
                                    in_axes=(0, 0, 0, None, None), mesh=mesh)
    return sharding.gather(out)


def point_keys(key: jax.Array, points: int, subjects: int) -> jax.Array:
    """[P, S] keys: every point gets the subjects' keys of `run_subjects(key)` (the same
    split), so a point equals the single run with its settings."""
    return jnp.broadcast_to(jax.random.split(key, subjects)[None], (points, subjects))
