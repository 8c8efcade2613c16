"""The per-subject continual-learning loop of every model, one jit-compiled function
vmapped over subjects (SPEC §3-§4), and the scores of its predictions.

    run = make_run("clifer", gdm_config, mlp_config, imagine_fn=features.imagine_fn)
    preds = run_subjects(run, key, data, order, (caae_params, transform))   # {memory: [S, T, C, Lt]}
    scores = score(preds["episodic"], data.y_test, data.mask_test, order)
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from clifer_jax import clifer, gdm, metrics, mlp, sharding

MODELS: tuple[str, ...] = ("mlp_finetune", "mlp_joint", "gdm", "gdm_replay", "clifer")
GDM_MODELS: tuple[str, ...] = ("gdm", "gdm_replay", "clifer")


def memories(model: str) -> tuple[str, ...]:
    """The predictors a model reports: both memories for the GDM family, one for the MLPs."""
    return ("episodic", "semantic") if model in GDM_MODELS else ("mlp",)


@struct.dataclass
class SubjectData:
    """One subject's features (a leading subject axis when batched).

    x [C, L, D], y [C, L], mask [C, L]: training samples per class, canonical class order.
    x_test [C, Lt, D], y_test [C, Lt], mask_test [C, Lt]: test samples per class.
    imagined [C, L, K, D] or None: the oracle's imagined features of every training sample
      for each of K classes (`clifer_jax.imagination.oracle_table`); read by CLIFER with
      `CLIFERConfig(imagination="oracle")` only.
    """

    x: jax.Array
    y: jax.Array
    mask: jax.Array
    x_test: jax.Array
    y_test: jax.Array
    mask_test: jax.Array
    imagined: jax.Array | None = None


def _gdm_run(model: str, config: gdm.GDMConfig, imagine_fn, clifer_config: clifer.CLIFERConfig):
    cfg = config.replace(replay=(model == "gdm_replay"))

    def run(key, data: SubjectData, order, imagine_params):
        del key                                     # the GDM is deterministic
        c, lt, d = data.x_test.shape
        x_test = data.x_test.reshape(c * lt, d)
        first = order[0]
        state = gdm.init_unchecked(cfg, data.x[first], data.y[first], data.mask[first])

        def step(state, cls):
            x, y, m = data.x[cls], data.y[cls], data.mask[cls]
            if model == "clifer":
                imagine = None if imagine_fn is None else (lambda z, t: imagine_fn(imagine_params, z, t))
                table = None if data.imagined is None else data.imagined[cls]
                state = clifer.learn_class_unchecked(cfg, state, x, y, m, imagine, clifer_config, table)
            else:
                state = gdm.learn_class_unchecked(cfg, state, x, y, m)
            p = gdm.predict_unchecked(cfg, state, x_test)
            return state, (p.episodic.labels[:, 0].reshape(c, lt), p.semantic.labels[:, 0].reshape(c, lt))

        _, (ep, se) = jax.lax.scan(step, state, order)
        return {"episodic": ep, "semantic": se}

    return run


def _mlp_run(model: str, config: mlp.MLPConfig):
    joint = model == "mlp_joint"

    def run(key, data: SubjectData, order, imagine_params):
        del imagine_params
        c, l, d = data.x.shape
        _, preds, train_acc = mlp.protocol_unchecked(
            config, key, data.x.reshape(c * l, d), data.y.reshape(c * l), data.mask.reshape(c * l),
            data.x_test.reshape(-1, d), order, jnp.asarray(joint))
        # "train_acc" is no predictor: `memories(model)` lists only "mlp"
        return {"mlp": preds.reshape(order.shape[0], *data.y_test.shape), "train_acc": train_acc}

    return run


def make_run(model: str, gdm_config: gdm.GDMConfig | None = None, mlp_config: mlp.MLPConfig | None = None,
             imagine_fn: Callable | None = None, clifer_config: clifer.CLIFERConfig | None = None):
    """`run(key, data: SubjectData, order [T], imagine_params) -> {memory: preds [T, C, Lt]}`
    for one subject: pure, jittable, vmappable over (key, data).

    imagine_fn(imagine_params, v, c) imagines in the memories' feature space (e.g.
    `clifer_jax.features.imagine_fn` with imagine_params = (CAAE params, transform));
    clifer_config lays out CLIFER's imagination set (default: the reference's order, the
    CAAE's imagination); with imagination "oracle", data.imagined holds the table.
    The MLPs' dict also holds "train_acc" [T], the accuracy on the samples trained on at
    each step."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; expected one of {MODELS}")
    if model in GDM_MODELS:
        if gdm_config is None:
            raise ValueError(f"model {model!r} needs a GDMConfig")
        ccfg = clifer_config or clifer.CLIFERConfig()
        if model == "clifer" and ccfg.imagination == "caae" and imagine_fn is None:
            raise ValueError("model 'clifer' with imagination 'caae' needs an imagine_fn(params, z, c)")
        return _gdm_run(model, gdm_config, imagine_fn, ccfg)
    if mlp_config is None:
        raise ValueError(f"model {model!r} needs an MLPConfig")
    return _mlp_run(model, mlp_config)


@functools.lru_cache(maxsize=32)
def _batched(run):
    """One compiled `jit(vmap(run))` per run function (a fresh wrapper would recompile)."""
    return jax.jit(jax.vmap(run, in_axes=(0, 0, None, None)))


def run_subjects(run, key: jax.Array, data: SubjectData, order, imagine_params=None,
                 devices=None) -> dict:
    """All subjects at once: `jit(vmap(run))` over the leading axis of data, one key per subject.

    devices: None (the default device), an int n (the first n of `jax.devices()`)
    or a sequence of devices; with more than one, subjects are sharded over them
    (`clifer_jax.sharding.map_subjects`: each device vmaps its own block; padding
    to a multiple of the device count is added and removed). Predictions do not
    depend on the number of devices. Returns numpy arrays (on every process of a
    multi-host run).
    """
    s = data.x.shape[0]
    keys = jax.random.split(key, s)
    order = jnp.asarray(order, jnp.int32)
    mesh = None if devices is None else sharding.subject_mesh(devices)
    if mesh is None or mesh.devices.size == 1:
        out = _batched(run)(keys, data, order, imagine_params)
    else:
        out = sharding.map_subjects(run, keys, data, order, imagine_params,
                                    in_axes=(0, 0, None, None), mesh=mesh)
    return sharding.gather(out)


def score(preds, y_test, mask_test, order) -> dict:
    """Scores of predictions [S, T, C, Lt] on test labels [S, C, Lt] (SPEC §4).

    Returns per subject and step: exp1_f1, exp1_acc (classes seen so far),
    exp2_f1, exp2_acc (all classes), and R [S, T, C] (accuracy on class
    order[i] after step t), with average accuracy, BWT and FWT per subject.
    """
    preds, y_test, mask_test = np.asarray(preds), np.asarray(y_test), np.asarray(mask_test, bool)
    order = [int(o) for o in order]
    s_num, t_num = preds.shape[:2]
    out = {k: np.zeros((s_num, t_num)) for k in ("exp1_f1", "exp1_acc", "exp2_f1", "exp2_acc")}
    r = np.zeros((s_num, t_num, len(order)))
    for s in range(s_num):
        yt, m = y_test[s].reshape(-1), mask_test[s].reshape(-1)
        for t in range(t_num):
            yp = preds[s, t].reshape(-1)
            seen = m & np.isin(yt, order[: t + 1])
            out["exp1_f1"][s, t] = metrics.macro_f1(yt, yp, mask=seen)
            out["exp1_acc"][s, t] = metrics.accuracy(yt, yp, mask=seen)
            out["exp2_f1"][s, t] = metrics.macro_f1(yt, yp, mask=m)
            out["exp2_acc"][s, t] = metrics.accuracy(yt, yp, mask=m)
        r[s] = metrics.cl_matrix(yt, preds[s].reshape(t_num, -1), order, mask=m)
    out["R"] = r
    out["average_accuracy"] = np.array([metrics.average_accuracy(ri) for ri in r])
    out["backward_transfer"] = np.array([metrics.backward_transfer(ri) for ri in r])
    out["forward_transfer"] = np.array([metrics.forward_transfer(ri) for ri in r])
    return out
