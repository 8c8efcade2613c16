"""The registered models and their per-subject continual-learning loop, one jit-compiled
function vmapped over subjects (docs/study.md, "Models").

    run = make_run("clifer", gdm_config, mlp_config, imagine_fn=features.imagine_unchecked)
    preds = run_subjects(run, model_key(seed, "clifer"), data, order, (caae_params, transform),
                         params=GDMParams())          # {memory: [S, T, C, Lt]}

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

from clifer_jax import clifer, gdm, mlp, sharding


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What a model is. family: "gdm" (two GWR memories; traced `GDMParams`) or "mlp";
    key_id: folded into the run seed for the model's PRNG key (never reuse or renumber one);
    replay: GDM pseudo-rehearsal; imagination: CLIFER's imagination step; imagine: where its
    imagined samples come from when the model fixes it ("none": CLIFER's schedule without
    imagined samples, the ablation that attributes CLIFER's gains; "oracle": the renderer's
    true faces), None: the study's `CLIFERConfig.imagination`; joint: the MLP retrains on
    everything seen so far instead of fine-tuning."""

    name: str
    family: str
    key_id: int
    replay: bool = False
    imagination: bool = False
    imagine: str | None = None
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
    ModelSpec("clifer_none", "gdm", key_id=5, imagination=True, imagine="none"),
    ModelSpec("clifer_oracle", "gdm", key_id=6, imagination=True, imagine="oracle"),
)}
MODELS: tuple[str, ...] = tuple(REGISTRY)
# The models a study runs unless told otherwise: the oracle needs the renderer (synthetic
# data only) and encodes every imagined face, so it runs on request.
DEFAULT_MODELS: tuple[str, ...] = tuple(n for n in MODELS if n != "clifer_oracle")
GDM_MODELS: tuple[str, ...] = tuple(n for n, m in REGISTRY.items() if m.family == "gdm")


def spec(model: str) -> ModelSpec:
    """The registry entry of `model` (ValueError naming the known models otherwise)."""
    if model not in REGISTRY:
        raise ValueError(f"unknown model {model!r}; expected one of {MODELS}")
    return REGISTRY[model]


def imagination(model: str, clifer_config: clifer.CLIFERConfig) -> str | None:
    """Where `model`'s imagined samples come from in a study whose CLIFER config is
    `clifer_config` ("caae", "oracle" or "none"); None for a model that does not imagine."""
    m = spec(model)
    if not m.imagination:
        return None
    return m.imagine if m.imagine is not None else clifer_config.imagination


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


def _gdm_run(model: ModelSpec, config: gdm.GDMConfig, imagine_fn, clifer_config: clifer.CLIFERConfig):
    def run(key, data: SubjectData, order, imagine_params, params):
        del key                                     # the GDM is deterministic
        params = (gdm.GDMParams() if params is None else params).cast(config.dtype)
        c, lt, d = data.x_test.shape
        x_test = data.x_test.reshape(c * lt, d)
        first = order[0]
        state = gdm.init_unchecked(config, params, data.x[first], data.y[first], data.mask[first])

        def step(state, cls):
            x, y, m = data.x[cls], data.y[cls], data.mask[cls]
            if model.imagination:
                table = None if data.imagined is None else data.imagined[cls]
                state = clifer.learn_class_unchecked(config, params, state, x, y, m, imagine_fn,
                                                     imagine_params, clifer_config, table)
            else:
                state = gdm.learn_class_unchecked(config, params, state, x, y, m, replay=model.replay)
            p = gdm.predict_unchecked(config, params, state, x_test)
            return state, (p.episodic.labels[:, 0].reshape(c, lt), p.semantic.labels[:, 0].reshape(c, lt))

        _, (ep, se) = jax.lax.scan(step, state, order)
        return {"episodic": ep, "semantic": se}

    return run


def _mlp_run(model: ModelSpec, config: mlp.MLPConfig):
    joint = model.joint

    def run(key, data: SubjectData, order, imagine_params, params):
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
    """`run(key, data: SubjectData, order [T], imagine_params, params) -> {memory: preds
    [T, C, Lt]}` for one subject: pure, jittable, vmappable over (key, data) and, for the GDM
    family, over `params` (a traced `GDMParams`, None: `GDMParams()`; the MLPs ignore it).

    imagine_fn(imagine_params, v, c) imagines in the memories' feature space (e.g.
    `clifer_jax.features.imagine_unchecked` with imagine_params = (CAAE params, transform));
    clifer_config lays out CLIFER's imagination set (default: the reference's order, the
    CAAE's imagination); with imagination "oracle", data.imagined holds the table.
    The MLPs' dict also holds "train_acc" [T], the accuracy on the samples trained on at
    each step."""
    m = spec(model)
    if m.family == "gdm":
        if gdm_config is None or not gdm_config.is_sized:
            raise ValueError(f"model {model!r} needs a GDMConfig with dim and capacity set "
                             f"(`GDMConfig.for_data`), got {gdm_config}")
        ccfg = clifer_config or clifer.CLIFERConfig()
        if m.imagine is not None:
            ccfg = dataclasses.replace(ccfg, imagination=m.imagine)
        if m.imagination and ccfg.imagination == "caae" and imagine_fn is None:
            raise ValueError(f"model {model!r} with imagination 'caae' needs an imagine_fn(params, z, c)")
        return _gdm_run(m, gdm_config, imagine_fn, ccfg)
    if mlp_config is None or mlp_config.feature_dim is None:
        raise ValueError(f"model {model!r} needs an MLPConfig with feature_dim set (`MLPConfig.for_data`)")
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
    shared by all subjects (None: `GDMParams()`; ignored by the MLPs). Returns numpy
    arrays (on every process of a multi-host run).
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
