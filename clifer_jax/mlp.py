"""The MLP baseline of docs/design.md in Flax linen + optax, trained on padded, masked data.

    x [D=50] → Dense 64, ReLU, BatchNorm → Dense 32, ReLU, BatchNorm
             → Dense 16, ReLU → Dense 6 (logits; softmax cross-entropy)

Adam (lr 2e-3, β₁ 0.5), mini-batches of 64, 20 epochs and at least 500 steps per
training call. Kernels drawn from N(0, 0.02²) in the first Dense layer and
N(0, 0.025²) in every later one (``MLPConfig.init_stds``), zero biases, batch norm
without a scale (γ), as the reference's Keras model; batch-norm momentum 0.9, and after training the running statistics are
set to the full training set's, so that ``mlp_joint`` fits what it was trained
on (``docs/metrics.md``). Pure functions over an ``MLPState`` pytree; ``MLPConfig``
is static (hashable) under ``jit``.

Padding: every sample set is a fixed-size array [N, D] with a validity mask [N],
so one compiled ``train`` serves every subject and class step and can be
``vmap``ped over subjects. Each epoch the valid samples are shuffled to the front
and cut into ⌈n_valid/64⌉ mini-batches, the last one partly filled (as Keras
does on n_valid samples). Invalid rows of a mini-batch are zeroed, carry zero
loss weight and are excluded from the batch-norm statistics, so padding has no
influence at all. A sample's shuffle key is ``fold_in(epoch_key, index)``, so
the order of the valid samples does not depend on how much padding follows them.

Two protocols (docs/design.md), each scanning over the class steps of one subject:
``mlp_finetune`` (the reference code: keep training the same network on the
current class only) and ``mlp_joint`` (the paper's description: a fresh network
trained on all classes seen so far). See ``docs/metrics.md``.
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from clifer_jax.classes import NUM_CLASSES
from clifer_jax.validate import is_concrete

__all__ = ["MLP", "MLPConfig", "MLPState", "init", "logits", "mlp_finetune", "mlp_joint",
           "predict", "protocol_unchecked", "recalibrate_unchecked", "train", "train_unchecked"]


@dataclasses.dataclass(frozen=True)
class MLPConfig:
    """Static shapes and hyperparameters (docs/design.md defaults).

    Attributes:
      feature_dim: D, input size (the CAAE latent). None: not known yet (`for_data` sets
        it from the features).
      hidden: widths of the hidden layers.
      batch_norm_layers: how many of the first hidden layers get batch norm.
      num_classes: C, output size.
      learning_rate, b1, b2, eps: Adam (eps 1e-7 as in Keras, the reference).
      batch_size: mini-batch size B.
      epochs: passes over the data per ``train`` call (at least; see min_steps).
      min_steps: at least this many Adam steps per ``train`` call: a call on
        n valid samples runs max(epochs, ⌈min_steps / ⌈n/B⌉⌉) epochs. A class
        step of a few dozen samples is one mini-batch, and 20 epochs (20 steps)
        neither fit it nor let the batch-norm running statistics settle.
      bn_momentum, bn_epsilon: batch norm (momentum 0.9: Keras' 0.99 leaves the
        running statistics near their initial values after a class step of a
        few dozen samples, so the network did not fit what it was trained on).
      init_stds: (first, later): the standard deviation of the normal kernel
        initialiser of the first Dense layer and of every later one (the other hidden
        layers and the output). The reference's Keras classifier
        (nchuramani/CLIFER, Experiments_DualMemory.py, ``classifier``) draws its kernels
        from RandomNormal(stddev=0.02) for Dense 64 and stddev=0.025 for Dense 32,
        Dense 16 and the output: (0.02, 0.025). ``layer_init_stds`` lists them per layer.
      bn_recalibrate: after training, set the batch-norm running statistics to
        the final network's statistics over all the valid training samples (one
        full-batch pass), so that prediction normalises as training did. Without
        it the running averages of mini-batch statistics (a last mini-batch of a
        handful of samples included) can leave a network that fits its training
        data in training mode far off it at prediction (docs/metrics.md).
    """

    feature_dim: int | None = None
    hidden: tuple[int, ...] = (64, 32, 16)
    batch_norm_layers: int = 2
    num_classes: int = NUM_CLASSES
    learning_rate: float = 2e-3
    b1: float = 0.5
    b2: float = 0.999
    eps: float = 1e-7
    batch_size: int = 64
    epochs: int = 20
    min_steps: int = 500
    bn_momentum: float = 0.9
    bn_epsilon: float = 1e-3
    init_stds: tuple[float, ...] = (0.02, 0.025)
    bn_recalibrate: bool = True

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "init_stds", tuple(float(v) for v in self.init_stds))
        checks = [
            (len(self.hidden) >= 1, f"hidden must list at least one layer width, got {self.hidden}"),
            (self.feature_dim is None or self.feature_dim >= 1,
             f"feature_dim must be >= 1 (or None), got {self.feature_dim}"),
            (all(h >= 1 for h in self.hidden), f"hidden widths must be >= 1, got {self.hidden}"),
            (0 <= self.batch_norm_layers <= len(self.hidden),
             f"batch_norm_layers must lie in [0, {len(self.hidden)}], got {self.batch_norm_layers}"),
            (self.num_classes >= 2, f"num_classes must be >= 2, got {self.num_classes}"),
            (self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}"),
            (0 <= self.b1 < 1 and 0 <= self.b2 < 1, f"b1, b2 must lie in [0, 1), got {self.b1}, {self.b2}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.epochs >= 0, f"epochs must be >= 0, got {self.epochs}"),
            (self.min_steps >= 0, f"min_steps must be >= 0, got {self.min_steps}"),
            (0 <= self.bn_momentum < 1, f"bn_momentum must lie in [0, 1), got {self.bn_momentum}"),
            (len(self.init_stds) == 2 and all(np.isfinite(v) and v > 0 for v in self.init_stds),
             f"init_stds must be two finite stds > 0 (first Dense layer, every later one), got {self.init_stds}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(f"MLPConfig: {msg}")

    def for_data(self, dim: int) -> "MLPConfig":
        """This config for features of `dim` (a set feature_dim must match them)."""
        if self.feature_dim is not None and self.feature_dim != dim:
            raise ValueError(f"MLPConfig.feature_dim is {self.feature_dim} but the features have {dim} "
                             f"dimensions (leave it unset to take the features')")
        return dataclasses.replace(self, feature_dim=int(dim))

    @property
    def layer_init_stds(self) -> tuple[float, ...]:
        """The kernel initialiser's standard deviation of each Dense layer, hidden layers then
        the output: (0.02, 0.025, 0.025, 0.025) for the reference's network."""
        first, later = self.init_stds
        return (first,) + (later,) * len(self.hidden)

    @property
    def model(self) -> "MLP":
        return MLP(self.hidden, self.num_classes, self.batch_norm_layers,
                   self.bn_momentum, self.bn_epsilon, self.layer_init_stds)

    @property
    def optimizer(self) -> optax.GradientTransformation:
        return optax.adam(self.learning_rate, b1=self.b1, b2=self.b2, eps=self.eps)


class MLP(nn.Module):
    """[B, D] -> logits [B, C]. ``mask`` [B] bool restricts the batch-norm statistics."""

    hidden: tuple[int, ...]
    num_classes: int
    batch_norm_layers: int
    bn_momentum: float
    bn_epsilon: float
    init_stds: tuple[float, ...] = (0.02, 0.025, 0.025, 0.025)   # per Dense layer, output last

    @nn.compact
    def __call__(self, x, train: bool, mask=None):
        normal = nn.initializers.normal
        if len(self.init_stds) != len(self.hidden) + 1:
            raise ValueError(f"MLP: init_stds needs one std per Dense layer ({len(self.hidden) + 1}), "
                             f"got {self.init_stds}")
        for i, width in enumerate(self.hidden):
            x = nn.relu(nn.Dense(width, kernel_init=normal(self.init_stds[i]))(x))
            if i < self.batch_norm_layers:
                # Keras' BatchNormalization(scale=False): a shift β, no scale γ (a
                # following linear layer can absorb it).
                x = nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum,
                                 epsilon=self.bn_epsilon, use_scale=False)(
                    x, mask=None if mask is None else mask[:, None])
        return nn.Dense(self.num_classes, kernel_init=normal(self.init_stds[-1]))(x)


@struct.dataclass
class MLPState:
    """Everything that evolves: params, batch_stats (running mean/var), opt_state (Adam)."""

    params: dict
    batch_stats: dict
    opt_state: optax.OptState


# --------------------------------------------------------------------------- init / predict


def _init(config: MLPConfig, key: jax.Array) -> MLPState:
    """A fresh network (normal kernels of the config's stds, zero biases, BN shift 0 and
    running mean 0 / var 1) and Adam state."""
    _check_sized(config)
    variables = config.model.init(key, jnp.zeros((1, config.feature_dim)), train=False)
    params = variables["params"]
    return MLPState(params=params, batch_stats=variables["batch_stats"],
                    opt_state=config.optimizer.init(params))


def _logits(config: MLPConfig, state: MLPState, x: jax.Array) -> jax.Array:
    """Class scores (batch norm with running statistics). x [..., D] -> [..., C] float32."""
    _check_x(config, x)
    flat = x.reshape(-1, config.feature_dim).astype(jnp.float32)
    out = config.model.apply({"params": state.params, "batch_stats": state.batch_stats},
                             flat, train=False)
    return out.reshape(x.shape[:-1] + (config.num_classes,))


def _predict(config: MLPConfig, state: MLPState, x: jax.Array) -> jax.Array:
    """Predicted labels (batch norm with running statistics). x [..., D] -> [...] int32."""
    _check_x(config, x)
    return jnp.argmax(logits(config, state, x), axis=-1).astype(jnp.int32)


# Public and traceable (their only checks are on shapes), so each is its own jitted entry point.
init = jax.jit(_init, static_argnums=0)
logits = jax.jit(_logits, static_argnums=0)
predict = jax.jit(_predict, static_argnums=0)


# --------------------------------------------------------------------------- train


def _check_sized(config: MLPConfig) -> None:
    if config.feature_dim is None:
        raise ValueError("MLPConfig.feature_dim is None: set it, or call config.for_data(dim)")


def _check_x(config: MLPConfig, x) -> None:
    _check_sized(config)
    if x.ndim < 1 or x.shape[-1] != config.feature_dim:
        raise ValueError(f"x must have shape [..., {config.feature_dim}], got {x.shape}")


def _check_xym(config: MLPConfig, x, y, mask) -> None:
    _check_sized(config)
    if x.ndim != 2 or x.shape[1] != config.feature_dim:
        raise ValueError(f"x must have shape [N, {config.feature_dim}], got {x.shape}")
    if y.shape != x.shape[:1] or mask.shape != x.shape[:1]:
        raise ValueError(f"y and mask must have shape {x.shape[:1]}, got {y.shape}, {mask.shape}")
    if not jnp.issubdtype(y.dtype, jnp.integer):
        raise ValueError(f"y must hold integer labels, got dtype {y.dtype}")
    if not (is_concrete(x) and is_concrete(y) and is_concrete(mask)):
        return
    m = np.asarray(mask, bool)
    yv, xv = np.asarray(y)[m], np.asarray(x)[m]
    if yv.size and (yv.min() < 0 or yv.max() >= config.num_classes):
        raise ValueError(f"valid labels must lie in [0, {config.num_classes}), "
                         f"found [{yv.min()}, {yv.max()}]")
    if not np.all(np.isfinite(xv)):
        raise ValueError("valid samples of x contain NaN/inf")


def _epoch_order(key: jax.Array, mask: jax.Array) -> jax.Array:
    """Permutation [N] of the sample slots: valid ones first in random order, then invalid."""
    idx = jnp.arange(mask.shape[0])
    # One key per slot index, so the valid samples' order ignores the padding length.
    bits = jax.vmap(lambda i: jax.random.bits(jax.random.fold_in(key, i), (), jnp.uint32))(idx)
    return jnp.lexsort((idx, bits, jnp.logical_not(mask)))


def _train_step(config: MLPConfig, state: MLPState, xb, yb, wb) -> MLPState:
    """One Adam step on a mini-batch xb [B, D], yb [B], weights wb [B] in {0, 1}."""
    model = config.model

    def loss_fn(params):
        out, updates = model.apply({"params": params, "batch_stats": state.batch_stats},
                                   xb, train=True, mask=wb > 0, mutable=["batch_stats"])
        ce = optax.softmax_cross_entropy_with_integer_labels(out, yb)
        return jnp.sum(wb * ce) / jnp.maximum(jnp.sum(wb), 1.0), updates["batch_stats"]

    grads, batch_stats = jax.grad(loss_fn, has_aux=True)(state.params)
    updates, opt_state = config.optimizer.update(grads, state.opt_state, state.params)
    return MLPState(params=optax.apply_updates(state.params, updates),
                    batch_stats=batch_stats, opt_state=opt_state)


def train_unchecked(config: MLPConfig, state: MLPState, key: jax.Array, x: jax.Array,
                    y: jax.Array, mask: jax.Array) -> MLPState:
    """``train`` without validation, traceable: epochs × valid mini-batches (nested fori_loops
    with data-dependent trip counts; a masked ``while`` under ``vmap``)."""
    x = x.astype(jnp.float32)  # the parameters' dtype, also under jax_enable_x64
    n = x.shape[0]
    b = config.batch_size
    padded = -(-n // b) * b
    num_batches = (jnp.sum(mask, dtype=jnp.int32) + b - 1) // b
    # at least config.min_steps Adam steps: more epochs over a small set
    num_epochs = jnp.where(num_batches > 0, jnp.maximum(
        config.epochs, (config.min_steps + num_batches - 1) // jnp.maximum(num_batches, 1)), 0)

    def epoch(e, state):
        epoch_key = jax.random.fold_in(key, e)
        perm = jnp.concatenate([_epoch_order(epoch_key, mask),
                                jnp.zeros((padded - n,), jnp.int32)])
        slot_ok = jnp.concatenate([jnp.ones((n,), bool), jnp.zeros((padded - n,), bool)])

        def batch(i, state):
            sel = jax.lax.dynamic_slice_in_dim(perm, i * b, b)
            ok = jnp.logical_and(jax.lax.dynamic_slice_in_dim(slot_ok, i * b, b), mask[sel])
            # Zero invalid rows: garbage or NaN there must not reach 0·NaN in the gradient.
            xb = jnp.where(ok[:, None], x[sel], 0.0)
            yb = jnp.where(ok, y[sel], 0)
            return _train_step(config, state, xb, yb, ok.astype(xb.dtype))

        # Only the batches that hold valid samples: the last one may be partial,
        # none is empty (valid samples come first), as in Keras on n_valid samples.
        return jax.lax.fori_loop(0, num_batches, batch, state)

    state = jax.lax.fori_loop(0, num_epochs, epoch, state)
    return recalibrate_unchecked(config, state, x, mask) if config.bn_recalibrate else state


def recalibrate_unchecked(config: MLPConfig, state: MLPState, x: jax.Array, mask: jax.Array
                          ) -> MLPState:
    """Batch-norm running statistics := the statistics of the valid rows of x [N, D]
    under the current parameters (a full-batch pass with momentum 0). Unchanged when
    no row is valid. Traceable, no validation."""
    full = dataclasses.replace(config, bn_momentum=0.0).model
    xz = jnp.where(mask[:, None], x.astype(jnp.float32), 0.0)
    _, upd = full.apply({"params": state.params, "batch_stats": state.batch_stats}, xz,
                        train=True, mask=mask, mutable=["batch_stats"])
    stats = jax.tree.map(lambda new, old: jnp.where(jnp.any(mask), new, old),
                         upd["batch_stats"], state.batch_stats)
    return state.replace(batch_stats=stats)


_train_jit = jax.jit(train_unchecked, static_argnums=0)


def train(config: MLPConfig, state: MLPState, key: jax.Array, x: jax.Array,
          y: jax.Array, mask: jax.Array) -> MLPState:
    """Shuffled mini-batch Adam on the valid samples: ``config.epochs`` epochs, more
    when needed to make at least ``config.min_steps`` steps.

    Args:
      config: static.
      state: network to continue from (``init`` for a fresh one).
      key: PRNG key for the shuffles (epoch e shuffles with ``fold_in(key, e)``).
      x: [N, D] float samples (padded; invalid rows may hold anything).
      y: [N] int labels in [0, C) where valid.
      mask: [N] bool, valid samples.
    Returns:
      the trained state. An all-invalid set leaves it unchanged.
    Jit-compiled once per (config, N); works under ``vmap`` (over subjects).
    """
    x, y, mask = jnp.asarray(x), jnp.asarray(y), jnp.asarray(mask, bool)
    _check_xym(config, x, y, mask)
    return _train_jit(config, state, key, x, y, mask)


# --------------------------------------------------------------------------- protocols


def protocol_unchecked(config: MLPConfig, key, x, y, mask, x_test, order, joint
                       ) -> tuple[MLPState, jax.Array, jax.Array]:
    """Both protocols without validation, traceable (for an outer jit/vmap).

    Arguments and returns as ``mlp_finetune``; ``joint`` is a (traced) bool
    scalar: True for ``mlp_joint``, so one compilation serves both.
    """
    order = jnp.asarray(order, jnp.int32)

    def step(carry, inp):
        state, seen = carry
        cls, k = inp
        k_init, k_train = jax.random.split(k)
        seen = seen.at[cls].set(True)
        # joint: a fresh network on every class seen so far; finetune: the same
        # network on the current class only.
        state = jax.tree.map(lambda fresh, old: jnp.where(joint, fresh, old),
                             init(config, k_init), state)
        sel = jnp.logical_and(mask, jnp.where(joint, seen[y], y == cls))
        state = train_unchecked(config, state, k_train, x, y, sel)
        # how well the step fits what it was trained on (running batch-norm statistics)
        hit = jnp.logical_and(sel, predict(config, state, x) == y)
        fit = jnp.sum(hit, dtype=jnp.float32) / jnp.sum(sel, dtype=jnp.float32)
        return (state, seen), (predict(config, state, x_test), fit)

    k0, k_steps = jax.random.split(key)
    carry = (init(config, k0), jnp.zeros((config.num_classes,), bool))
    steps = (order, jax.random.split(k_steps, order.shape[0]))
    (state, _), (preds, train_acc) = jax.lax.scan(step, carry, steps)
    return state, preds, train_acc


_protocol_jit = jax.jit(protocol_unchecked, static_argnums=0)


def _check_protocol(config, x, y, mask, x_test, order) -> None:
    _check_xym(config, jnp.asarray(x), jnp.asarray(y), jnp.asarray(mask, bool))
    _check_x(config, jnp.asarray(x_test))
    o = jnp.asarray(order)
    if o.ndim != 1 or o.shape[0] < 1:
        raise ValueError(f"order must be a non-empty 1-D sequence of classes, got shape {o.shape}")
    if is_concrete(o):
        on = np.asarray(o)
        if on.min() < 0 or on.max() >= config.num_classes or len(set(on.tolist())) != on.size:
            raise ValueError(f"order must list distinct classes in [0, {config.num_classes}), "
                             f"got {on.tolist()}")


def _run_protocol(config, key, x, y, mask, x_test, order, joint: bool):
    _check_protocol(config, x, y, mask, x_test, order)
    return _protocol_jit(config, key, jnp.asarray(x), jnp.asarray(y), jnp.asarray(mask, bool),
                         jnp.asarray(x_test), jnp.asarray(order, jnp.int32), jnp.asarray(joint))


def mlp_finetune(config: MLPConfig, key: jax.Array, x, y, mask, x_test, order
                 ) -> tuple[MLPState, jax.Array, jax.Array]:
    """The reference protocol: one network, trained at step t on class ``order[t]`` only.

    Args:
      key: PRNG key (initialisation and every step's shuffles are split from it).
      x [N, D], y [N], mask [N]: one subject's padded training samples, all classes.
      x_test: [M, D] test samples (padding rows are predicted too; mask them when scoring).
      order: [T] classes in learning order.
    Returns:
      (final state, predictions [T, M] int32 after each step, train_acc [T]
      float32: after each step, the accuracy on the samples trained on at that
      step — the current class here, every class seen for ``mlp_joint`` — NaN
      for a step without valid samples).
    Vmappable over subjects (all arguments but ``config``; ``order`` may be shared).
    """
    return _run_protocol(config, key, x, y, mask, x_test, order, joint=False)


def mlp_joint(config: MLPConfig, key: jax.Array, x, y, mask, x_test, order
              ) -> tuple[MLPState, jax.Array, jax.Array]:
    """The paper's protocol: at step t a fresh network trained on classes ``order[:t+1]``.

    Same arguments and returns as ``mlp_finetune``.
    """
    return _run_protocol(config, key, x, y, mask, x_test, order, joint=True)
