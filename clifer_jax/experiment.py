"""The per-subject continual-learning loop of every model, one jit-compiled function
vmapped over subjects (docs/design.md), and the scores of its predictions.

    run = make_run("clifer", gdm_config, mlp_config, imagine_fn=features.imagine_unchecked)
    preds = run_subjects(run, model_key(seed, "clifer"), data, order, (caae_params, transform),
                         params=gdm_config.params())          # {memory: [S, T, C, Lt]}
    scores = score(preds["episodic"], data.y_test, data.mask_test, order)

Models are a registry (`REGISTRY`: name -> `ModelSpec`); each model's PRNG key comes from
its spec's stable `key_id`, so adding a model changes no other model's numbers.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from clifer_jax import clifer, gdm, metrics, mlp, sharding

@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What a model is. family: "gdm" (two GWR memories; traced `GDMParams`) or "mlp";
    key_id: folded into the run seed for the model's PRNG key (never reuse or renumber one);
    replay: GDM pseudo-rehearsal; imagination: CLIFER's imagination step; joint: the MLP
    retrains on everything seen so far instead of fine-tuning."""

    name: str
    family: str
    key_id: int
    replay: bool = False
    imagination: bool = False
    joint: bool = False

    @property
    def memories(self) -> tuple[str, ...]:
        return ("episodic", "semantic") if self.family == "gdm" else ("mlp",)


# key_ids are the models' positions in the registry's first version, so the numbers of
# every existing run stay as they were.
REGISTRY: dict[str, ModelSpec] = {m.name: m for m in (
    ModelSpec("mlp_finetune", "mlp", key_id=0),
    ModelSpec("mlp_joint", "mlp", key_id=1, joint=True),
    ModelSpec("gdm", "gdm", key_id=2),
    ModelSpec("gdm_replay", "gdm", key_id=3, replay=True),
    ModelSpec("clifer", "gdm", key_id=4, imagination=True),
)}
MODELS: tuple[str, ...] = tuple(REGISTRY)
GDM_MODELS: tuple[str, ...] = tuple(n for n, m in REGISTRY.items() if m.family == "gdm")


def spec(model: str) -> ModelSpec:
    """The registry entry of `model` (ValueError naming the known models otherwise)."""
    if model not in REGISTRY:
        raise ValueError(f"unknown model {model!r}; expected one of {MODELS}")
    return REGISTRY[model]


def model_key(seed: int, model: str) -> jax.Array:
    """The PRNG key of `model` in a run with `seed`: fold_in(key(seed), key_id)."""
    return jax.random.fold_in(jax.random.key(seed), spec(model).key_id)


def memories(model: str) -> tuple[str, ...]:
    """The predictors a model reports: both memories for the GDM family, one for the MLPs."""
    return spec(model).memories


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


def subject_data(x, y, mask, x_test, y_test, mask_test) -> SubjectData:
    """SubjectData from features [S, C, L, D] and labels/masks [S, C, L] of training and test
    samples; labels of padding rows are set to 0 (they are masked out everywhere)."""
    return SubjectData(x=x, y=np.where(mask, y, 0).astype(np.int32), mask=np.asarray(mask, bool),
                       x_test=x_test, y_test=np.where(mask_test, y_test, 0).astype(np.int32),
                       mask_test=np.asarray(mask_test, bool))


def order_study_orders(order, seed: int) -> dict[str, tuple[int, ...]]:
    """The order study's orders (docs/metrics.md, "Order study"): for each class of `order`,
    one order that starts with it, the rest shuffled by a generator seeded with `seed`;
    named "first-<Class>"."""
    from clifer_jax.classes import EXPRESSIONS

    rng = np.random.default_rng(seed)
    orders = {}
    for c in sorted(order):
        rest = [k for k in order if k != c]
        orders[f"first-{EXPRESSIONS[c]}"] = (c, *[int(k) for k in rng.permutation(rest)])
    return orders


def _gdm_run(model: ModelSpec, config: gdm.GDMConfig, imagine_fn, clifer_config: clifer.CLIFERConfig):
    cfg = config.replace(replay=model.replay)

    def run(key, data: SubjectData, order, imagine_params, params=None):
        del key                                     # the GDM is deterministic
        c, lt, d = data.x_test.shape
        x_test = data.x_test.reshape(c * lt, d)
        first = order[0]
        state = gdm.init_unchecked(cfg, data.x[first], data.y[first], data.mask[first], params)

        def step(state, cls):
            x, y, m = data.x[cls], data.y[cls], data.mask[cls]
            if model.imagination:
                imagine = None if imagine_fn is None else (lambda z, t: imagine_fn(imagine_params, z, t))
                table = None if data.imagined is None else data.imagined[cls]
                state = clifer.learn_class_unchecked(cfg, state, x, y, m, imagine, clifer_config, table, params)
            else:
                state = gdm.learn_class_unchecked(cfg, state, x, y, m, params)
            p = gdm.predict_unchecked(cfg, state, x_test, params)
            return state, (p.episodic.labels[:, 0].reshape(c, lt), p.semantic.labels[:, 0].reshape(c, lt))

        _, (ep, se) = jax.lax.scan(step, state, order)
        return {"episodic": ep, "semantic": se}

    return run


def _mlp_run(model: ModelSpec, config: mlp.MLPConfig):
    joint = model.joint

    def run(key, data: SubjectData, order, imagine_params, params=None):
        del imagine_params, params
        c, l, d = data.x.shape
        _, preds, train_acc = mlp.protocol_unchecked(
            config, key, data.x.reshape(c * l, d), data.y.reshape(c * l), data.mask.reshape(c * l),
            data.x_test.reshape(-1, d), order, jnp.asarray(joint))
        # "train_acc" is no predictor: `memories(model)` lists only "mlp"
        return {"mlp": preds.reshape(order.shape[0], *data.y_test.shape), "train_acc": train_acc}

    return run


def make_run(model: str, gdm_config: gdm.GDMConfig | None = None, mlp_config: mlp.MLPConfig | None = None,
             imagine_fn: Callable | None = None, clifer_config: clifer.CLIFERConfig | None = None):
    """`run(key, data: SubjectData, order [T], imagine_params, params=None) -> {memory: preds
    [T, C, Lt]}` for one subject: pure, jittable, vmappable over (key, data) and, for the GDM
    family, over `params` (a traced `GDMParams`; None: the config's own values).

    imagine_fn(imagine_params, v, c) imagines in the memories' feature space (e.g.
    `clifer_jax.features.imagine_unchecked` with imagine_params = (CAAE params, transform));
    clifer_config lays out CLIFER's imagination set (default: the reference's order, the
    CAAE's imagination); with imagination "oracle", data.imagined holds the table.
    The MLPs' dict also holds "train_acc" [T], the accuracy on the samples trained on at
    each step."""
    m = spec(model)
    if m.family == "gdm":
        if gdm_config is None:
            raise ValueError(f"model {model!r} needs a GDMConfig")
        ccfg = clifer_config or clifer.CLIFERConfig()
        if m.imagination and ccfg.imagination == "caae" and imagine_fn is None:
            raise ValueError(f"model {model!r} with imagination 'caae' needs an imagine_fn(params, z, c)")
        return _gdm_run(m, gdm_config, imagine_fn, ccfg)
    if mlp_config is None:
        raise ValueError(f"model {model!r} needs an MLPConfig")
    return _mlp_run(m, mlp_config)


@functools.lru_cache(maxsize=32)
def _batched(run):
    """One compiled `jit(vmap(run))` per run function (a fresh wrapper would recompile)."""
    return jax.jit(jax.vmap(run, in_axes=(0, 0, None, None, None)))


def run_subjects(run, key: jax.Array, data: SubjectData, order, imagine_params=None,
                 devices=None, params=None) -> dict:
    """All subjects at once: `jit(vmap(run))` over the leading axis of data, one key per subject.

    devices: None (the default device), an int n (the first n of `jax.devices()`)
    or a sequence of devices; with more than one, subjects are sharded over them
    (`clifer_jax.sharding.map_subjects`: each device vmaps its own block; padding
    to a multiple of the device count is added and removed). Predictions do not
    depend on the number of devices. params: the GDM family's traced `GDMParams`,
    shared by all subjects (None: the config's values). Returns numpy arrays (on every
    process of a multi-host run).
    """
    s = data.x.shape[0]
    keys = jax.random.split(key, s)
    order = jnp.asarray(order, jnp.int32)
    mesh = None if devices is None else sharding.subject_mesh(devices)
    if mesh is None or mesh.devices.size == 1:
        out = _batched(run)(keys, data, order, imagine_params, params)
    else:
        out = sharding.map_subjects(run, keys, data, order, imagine_params, params,
                                    in_axes=(0, 0, None, None, None), mesh=mesh)
    return sharding.gather(out)


def score(preds, y_test, mask_test, order) -> dict:
    """Scores of predictions [S, T, C, Lt] on test labels [S, C, Lt] (docs/metrics.md).

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


HEADLINE_FIGURES = ("exp1_f1_avg", "exp2_f1_first_step", "exp2_f1_final", "backward_transfer", "forward_transfer")


def headline_figures(scores: dict) -> dict[str, np.ndarray]:
    """Per-subject headline figures [S] of one model/memory's `score` output."""
    return {"exp1_f1_avg": scores["exp1_f1"].mean(axis=1), "exp2_f1_first_step": scores["exp2_f1"][:, 0],
            "exp2_f1_final": scores["exp2_f1"][:, -1], "backward_transfer": scores["backward_transfer"],
            "forward_transfer": scores["forward_transfer"]}


def summarise(s: dict) -> dict:
    """`score`'s per-subject output summarised over subjects (docs/metrics.md, "Over
    subjects"): mean and 95% CI per step of the F1s and accuracies (with the per-subject
    values), Experiment 1's F1 averaged over steps, the transfer figures and the mean R."""
    res = {}
    for k in ("exp1_f1", "exp1_acc", "exp2_f1", "exp2_acc"):
        mean, ci = metrics.mean_ci(s[k], axis=0)
        res[k] = {"mean": np.asarray(mean).tolist(), "ci95": np.asarray(ci).tolist(),
                  "per_subject": s[k].tolist()}
    # Experiment 1 over the whole run: each subject's Exp. 1 F1 averaged over steps
    per_subject = s["exp1_f1"].mean(axis=1)
    mean, ci = metrics.mean_ci(per_subject)
    res["exp1_f1_avg"] = {"mean": mean, "ci95": ci, "per_subject": per_subject.tolist()}
    for k in ("average_accuracy", "backward_transfer", "forward_transfer"):
        mean, ci = metrics.mean_ci(s[k], axis=0)
        res[k] = {"mean": float(mean), "ci95": float(ci)}
    res["R_mean"] = np.nanmean(s["R"], axis=0).tolist()
    return res
