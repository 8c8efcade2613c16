"""Training of the CAAE (docs/caae.md): a two-optimiser TrainState, a jitted alternating step,
and an epoch loop with a progress bar, per-epoch metrics and orbax checkpoints.

Determinism and exact resume: the batch order of epoch e is a permutation drawn from
`fold_in(data_key, e)` and the noise of step t from `fold_in(step_key, t)`, and the
learning-rate schedule's count lives in the optimiser state. So a run stopped after any
epoch and resumed from its checkpoint takes exactly the steps an uninterrupted run takes.

Data-parallel (`train(..., mesh=)`): each batch is split over the mesh's devices and the
state replicated; XLA sums the gradients and batch statistics across devices, so the
updates are the one-device updates up to float summation order. On several processes
every process trains and only the writer (`clifer_jax.hosts`) saves checkpoints.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
from flax import struct
from tqdm.auto import tqdm

from clifer_jax import hosts, sharding
from clifer_jax.caae import losses
from clifer_jax.caae.api import CAAEParams, images_to_model
from clifer_jax.caae.config import CAAEConfig, without_removed_fields
from clifer_jax.caae.models import DiscriminatorImage, DiscriminatorZ, Encoder, Generator, LatentHead, init_variables
from clifer_jax.caae.identity_net import IdentityNetParams, features as identity_features
from clifer_jax.caae.vgg_face import VGGFaceWeights, features as vgg_features

Metrics = dict[str, jax.Array]


class CAAEState(struct.PyTreeNode):
    """Flax's TrainState forked to hold two optimisers (as its docstring advises):
    one for the autoencoder (E + G), one for the discriminators (D_z + D_img).

    ae_params = {'encoder', 'generator', 'zhead'}; d_params = {'dz', 'dimg'}; d_batch_stats likewise.
    """

    step: jax.Array
    ae_params: dict
    d_params: dict
    d_batch_stats: dict
    ae_opt_state: optax.OptState
    d_opt_state: optax.OptState
    ae_tx: optax.GradientTransformation = struct.field(pytree_node=False)
    d_tx: optax.GradientTransformation = struct.field(pytree_node=False)

    @classmethod
    def create(cls, config: CAAEConfig, key: jax.Array, total_steps: int) -> "CAAEState":
        """Fresh state; both optimisers are Adam(lr, β₁) with lr decaying linearly to 0
        over `total_steps` E/G updates (docs/caae.md)."""
        v = init_variables(config, key)
        ae_params = {"encoder": v["encoder"], "generator": v["generator"], "zhead": v["zhead"]}
        d_params = {"dz": v["dz"]["params"], "dimg": v["dimg"]["params"]}
        d_stats = {"dz": v["dz"]["batch_stats"], "dimg": v["dimg"]["batch_stats"]}
        ae_tx, d_tx = make_optimizers(config, total_steps)
        return cls(
            step=jnp.zeros((), jnp.int32),
            ae_params=ae_params,
            d_params=d_params,
            d_batch_stats=d_stats,
            ae_opt_state=ae_tx.init(ae_params),
            d_opt_state=d_tx.init(d_params),
            ae_tx=ae_tx,
            d_tx=d_tx,
        )

    def apply_d_gradients(self, grads: dict, batch_stats: dict) -> "CAAEState":
        updates, opt = self.d_tx.update(grads, self.d_opt_state, self.d_params)
        return self.replace(
            d_params=optax.apply_updates(self.d_params, updates), d_opt_state=opt, d_batch_stats=batch_stats
        )

    def apply_ae_gradients(self, grads: dict) -> "CAAEState":
        updates, opt = self.ae_tx.update(grads, self.ae_opt_state, self.ae_params)
        return self.replace(
            ae_params=optax.apply_updates(self.ae_params, updates), ae_opt_state=opt, step=self.step + 1
        )

    def inference_params(self, config: CAAEConfig) -> CAAEParams:
        """The trained encoder + generator as `CAAEParams`."""
        return CAAEParams(config=config, encoder=self.ae_params["encoder"], generator=self.ae_params["generator"])


def make_optimizers(config: CAAEConfig, total_steps: int) -> tuple[optax.GradientTransformation, ...]:
    """(autoencoder, discriminator) optimisers: Adam(β₁) with a linear decay to 0 over
    `total_steps` (one discriminator update per E/G update)."""
    total = max(int(total_steps), 1)
    ae_lr = optax.linear_schedule(config.learning_rate, 0.0, total)
    d_lr = optax.linear_schedule(config.learning_rate, 0.0, total)
    return optax.adam(ae_lr, b1=config.beta1), optax.adam(d_lr, b1=config.beta1)


def _other_condition(key: jax.Array, y: jax.Array, k: int) -> jax.Array:
    """A random class ≠ y per row: (y + U{1..k-1}) mod k."""
    return (y + jax.random.randint(key, y.shape, 1, k)) % k


def _forward_ae(config, ae_params, x, y, c_other):
    """z = E(x), the reconstruction G(z, y), the translation G(z, c_other), and the latent
    head's logits on z and on E(G(z, c_other)) (E and head frozen there: only G and,
    through z, E's first pass learn from that term; zeros when `imagine_class_weight` is 0)."""
    enc = Encoder(config)
    z = enc.apply({"params": ae_params["encoder"]}, x)
    gen = Generator(config)
    both = gen.apply({"params": ae_params["generator"]}, jnp.concatenate([z, z]), jnp.concatenate([y, c_other]))
    b = x.shape[0]
    recon, trans = both[:b], both[b:]
    head = LatentHead(config)
    logits_z = head.apply({"params": ae_params["zhead"]}, z)
    logits_imag = jnp.zeros_like(logits_z)
    if config.imagine_class_weight > 0:
        frozen = jax.lax.stop_gradient((ae_params["encoder"], ae_params["zhead"]))
        logits_imag = head.apply({"params": frozen[1]}, enc.apply({"params": frozen[0]}, trans))
    return z, recon, trans, logits_z, logits_imag


def condition_keys(key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(k_c, k_d) of a step's key: the random conditions' and the discriminator update's."""
    k_c, k_d = jax.random.split(key)
    return k_c, k_d


@functools.partial(jax.jit, static_argnames=("k",))
def step_conditions(key: jax.Array, y: jax.Array, k: int) -> jax.Array:
    """The conditions c' ≠ y a step with this key translates to (as `_train_step` draws them)."""
    return _other_condition(condition_keys(key)[0], y, k)


class PairTable:
    """For each (identity, class), the indices of the pool's faces of that identity showing
    that class: the paired term's partners (docs/caae.md, "Paired translation"). A partner
    is any face of the same identity and target class (on real data: any clip of the same
    subject; frames are not matched by time or pose)."""

    def __init__(self, identities: np.ndarray, labels: np.ndarray, num_classes: int):
        ids = np.unique(identities, return_inverse=True)[1].reshape(-1)
        key = ids * num_classes + labels
        self.order = np.argsort(key, kind="stable")
        counts = np.bincount(key, minlength=(ids.max() + 1) * num_classes)
        self.start = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.count = counts
        self.ids, self.k = ids, num_classes

    def partners(self, idx: np.ndarray, targets: np.ndarray, rng: np.random.Generator):
        """A random partner of each face idx [B] for its target class [B] -> (partner
        indices [B], has one [B] bool)."""
        cell = self.ids[idx] * self.k + targets
        n = self.count[cell]
        pick = self.start[cell] + np.floor(rng.random(len(idx)) * np.maximum(n, 1)).astype(np.int64)
        return self.order[np.minimum(pick, len(self.order) - 1)], n > 0


def _paired_terms(config: CAAEConfig, ae_params, trans, pair_x, pair_mask):
    """(pixel, latent) paired terms: the masked means over the batch of |trans − x_b| and
    |E(trans) − E(x_b)| (E frozen)."""
    w = pair_mask.astype(jnp.float32)
    n = jnp.maximum(jnp.sum(w), 1.0)
    pixel = jnp.sum(w * jnp.mean(jnp.abs(trans - pair_x), axis=(1, 2, 3))) / n
    latent = jnp.zeros(())
    if config.paired_latent_weight > 0:
        enc = Encoder(config)
        frozen = {"params": jax.lax.stop_gradient(ae_params["encoder"])}
        zt, zp = enc.apply(frozen, trans), enc.apply(frozen, pair_x)
        latent = jnp.sum(w * jnp.mean(jnp.abs(zt - jax.lax.stop_gradient(zp)), axis=-1)) / n
    return pixel, latent


def _fake_batch(config: CAAEConfig, recon, trans, y, c_other):
    """Fake images (and their conditions) shown to D_img."""
    if config.random_condition:
        return jnp.concatenate([recon, trans]), jnp.concatenate([y, c_other])
    return recon, y


def _train_step(
    config: CAAEConfig,
    state: CAAEState,
    images: jax.Array,
    labels: jax.Array,
    key: jax.Array,
    vgg: VGGFaceWeights | None = None,
    identity: IdentityNetParams | None = None,
    pair_images: jax.Array | None = None,
    pair_mask: jax.Array | None = None,
) -> tuple[CAAEState, Metrics]:
    """One alternating update: one discriminator update, then one E/G update.

    images: uint8 [B, H, W, C] (converted to [-1, 1] here); labels: int32 [B]; key: this
    step's PRNG key. Returns the new state and scalar metrics (losses before the update).
    vgg / identity: the frozen network of the identity loss (`config.identity_net`).
    pair_images [B, H, W, C] uint8, pair_mask [B] bool: each face's partner of the same
    identity showing its condition c' (`step_conditions`), when `config.uses_pairs`.

    The E/G forward pass runs once: its outputs are the discriminators' fakes (the
    discriminator update does not change E or G), and its VJP carries the E/G loss —
    computed against the *updated* discriminators — back to the E/G parameters.
    """
    x = images.astype(jnp.float32) / 127.5 - 1.0
    y = labels.astype(jnp.int32)
    k_c, k_d = condition_keys(key)
    k_prior = jax.random.split(k_d, 1)[0]   # the key of the one discriminator update
    c_other = _other_condition(k_c, y, config.num_classes)
    dz_mod, di_mod = DiscriminatorZ(config), DiscriminatorImage(config)

    outs, ae_vjp = jax.vjp(lambda p: _forward_ae(config, p, x, y, c_other), state.ae_params)
    z, recon, trans = outs[:3]
    fake_x, fake_c = _fake_batch(config, recon, trans, y, c_other)

    # ---- discriminators: real z ~ U(-1, 1) vs E(x); real (x, y) vs fakes --------------
    def d_objective(d_params, stats, key_prior):
        prior = jax.random.uniform(key_prior, z.shape, minval=-1.0, maxval=1.0)
        call_z = lambda v, s: dz_mod.apply(  # noqa: E731
            {"params": d_params["dz"], "batch_stats": s}, v, train=True, mutable=["batch_stats"]
        )
        call_i = lambda im, c, s: di_mod.apply(  # noqa: E731
            {"params": d_params["dimg"], "batch_stats": s}, im, c, train=True, mutable=["batch_stats"]
        )
        real_z, s_z = call_z(prior, stats["dz"])
        fake_z, s_z = call_z(z, s_z["batch_stats"])
        loss_z = losses.d_loss(real_z, fake_z)
        loss_i = jnp.zeros(())
        new_stats = {"dz": s_z["batch_stats"], "dimg": stats["dimg"]}
        if config.uses_image_discriminator:  # else D_img is left as initialised (no E/G term reads it)
            real_i, s_i = call_i(x, y, stats["dimg"])
            fake_i, s_i = call_i(fake_x, fake_c, s_i["batch_stats"])
            loss_i = losses.d_loss(real_i, fake_i)
            new_stats["dimg"] = s_i["batch_stats"]
        return loss_z + loss_i, (new_stats, {"d_z": loss_z, "d_img": loss_i})

    (_, (stats, d_metrics)), grads = jax.value_and_grad(d_objective, has_aux=True)(
        state.d_params, state.d_batch_stats, k_prior
    )
    state = state.apply_d_gradients(grads, stats)

    # ---- encoder + generator against the updated discriminators -----------------------
    d_vars_z = {"params": state.d_params["dz"], "batch_stats": state.d_batch_stats["dz"]}
    d_vars_i = {"params": state.d_params["dimg"], "batch_stats": state.d_batch_stats["dimg"]}

    def ae_objective(outs):
        z, recon, trans, logits_z, logits_imag = outs
        logit_z, _ = dz_mod.apply(d_vars_z, z, train=True, mutable=["batch_stats"])
        rec = losses.l1_loss(recon, x)
        tv = losses.total_variation(jnp.concatenate([recon, trans]) if config.tv_translation else recon)
        adv_z = losses.g_loss(logit_z)
        adv_i = jnp.zeros(())
        if config.uses_image_discriminator:
            fx, fc = _fake_batch(config, recon, trans, y, c_other)
            logit_i, _ = di_mod.apply(d_vars_i, fx, fc, train=True, mutable=["batch_stats"])
            adv_i = losses.g_loss(logit_i)
        total = (
            config.l1_weight * rec
            + config.tv_weight * tv
            + config.adv_z_weight * adv_z
            + config.adv_img_weight * adv_i
        )
        latent_ce = losses.class_loss(logits_z, y)
        imag_ce = losses.class_loss(logits_imag, c_other)
        if config.latent_class_weight > 0:
            total = total + config.latent_class_weight * latent_ce
        if config.imagine_class_weight > 0:
            total = total + config.imagine_class_weight * imag_ce
        ident = jnp.zeros(())
        if config.identity_weight > 0:
            if config.identity_net == "synthetic":   # an identity network: the translations too
                feats = functools.partial(identity_features, identity)
                ident = losses.identity_loss(feats, jnp.concatenate([x, x]), jnp.concatenate([recon, trans]))
            else:                                    # VGG-Face: the reconstructions only
                ident = losses.identity_loss(functools.partial(vgg_features, vgg), x, recon)
            total = total + config.identity_weight * ident
        metrics = {"loss": total, "l1": rec, "tv": tv, "adv_z": adv_z, "adv_img": adv_i,
                   "identity": ident, "latent_ce": latent_ce, "imagine_ce": imag_ce,
                   "latent_acc": jnp.mean((jnp.argmax(logits_z, -1) == y).astype(jnp.float32)),
                   "imagine_acc": jnp.mean((jnp.argmax(logits_imag, -1) == c_other).astype(jnp.float32))}
        if config.uses_pairs:
            pair_x = pair_images.astype(jnp.float32) / 127.5 - 1.0
            paired, paired_z = _paired_terms(config, state.ae_params, trans, pair_x, pair_mask)
            total = total + config.paired_weight * paired + config.paired_latent_weight * paired_z
            metrics.update(loss=total, paired_l1=paired, paired_z=paired_z)
        return total, metrics

    out_grads, ae_metrics = jax.grad(ae_objective, has_aux=True)(outs)
    (grads,) = ae_vjp(out_grads)
    state = state.apply_ae_gradients(grads)
    return state, {**d_metrics, **ae_metrics}


train_step = jax.jit(_train_step, static_argnames=("config",), donate_argnames=("state",))


@functools.lru_cache(maxsize=8)
def parallel_train_step(mesh: jax.sharding.Mesh):
    """`train_step` for a batch split over `mesh` and a replicated state: the outputs
    (state and metrics) replicated."""
    replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    return jax.jit(_train_step, static_argnames=("config",), donate_argnames=("state",),
                   out_shardings=replicated)


# ------------------------------------------------------------------------ the loop


def _config_dict(config: CAAEConfig) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.__dict__.items()}


def _saved_config(saved: dict) -> dict:
    """A checkpoint's config with the fields added since it was made at their defaults and
    the fields removed since (`config.REMOVED_FIELDS`) dropped; ValueError when one of
    those held a value other than the one the current code trains with."""
    return {**_config_dict(CAAEConfig()), **without_removed_fields(saved)}


def _map_dicts(tree, fn):
    """`fn` applied to every dict of a tree of dicts, lists, tuples and named tuples (an
    optax state), innermost first."""
    if isinstance(tree, dict):
        return fn({k: _map_dicts(v, fn) for k, v in tree.items()})
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return type(tree)(*(_map_dicts(v, fn) for v in tree))
    if isinstance(tree, (tuple, list)):
        return type(tree)(_map_dicts(v, fn) for v in tree)
    return tree


def _is_d_img(tree: dict) -> bool:
    return "logit" in tree and "fc" in tree and "conv0" in tree


def _with_aux_head(state: CAAEState, num_classes: int) -> CAAEState:
    """`state` (of ShapeDtypeStructs) as checkpoints written up to commit 8615700 hold it:
    D_img with its unused auxiliary class head 'aux' (Dense dimg_dense → num_classes),
    in the parameters and in the discriminators' optimiser state."""
    def add(tree):
        if _is_d_img(tree):
            k = tree["logit"]["kernel"]
            tree = {**tree, "aux": {"bias": jax.ShapeDtypeStruct((num_classes,), k.dtype),
                                    "kernel": jax.ShapeDtypeStruct((k.shape[0], num_classes), k.dtype)}}
        return tree

    return state.replace(d_params=_map_dicts(state.d_params, add), d_opt_state=_map_dicts(state.d_opt_state, add))


def _without_aux_head(state: CAAEState) -> CAAEState:
    """Undoes `_with_aux_head` on a restored state (the head never affected training)."""
    def drop(tree):
        return {k: v for k, v in tree.items() if k != "aux"} if "logit" in tree else tree

    return state.replace(d_params=_map_dicts(state.d_params, drop), d_opt_state=_map_dicts(state.d_opt_state, drop))


def _restore_state(mngr: ocp.CheckpointManager, step: int, abstract: CAAEState, config: CAAEConfig) -> CAAEState:
    """The state of checkpoint `step`, in the structure of `abstract`. A checkpoint from
    before D_img's auxiliary class head was removed holds the head's (unused) parameters:
    it is read in its own structure and the head dropped."""
    def restore(target):
        return mngr.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(target)))["state"]

    target = jax.tree.map(ocp.utils.to_shape_dtype_struct, abstract)
    if jax.process_count() > 1:   # orbax restores no host-local jax.Array on several processes
        target = jax.tree.map(lambda a: np.zeros(a.shape, a.dtype), target)
    try:
        return restore(target)
    except ValueError as first:
        try:
            restored = restore(_with_aux_head(target, config.num_classes))
        except ValueError:
            raise first from None
        return _without_aux_head(restored)


def _manager(ckpt_dir: str, keep: int, write: bool = True) -> ocp.CheckpointManager:
    """The checkpoint folder's manager. On several processes it acts for this process alone
    (`hosts.orbax_options`): the writer's saves, a follower's reads (it never saves)."""
    path = os.path.abspath(ckpt_dir)
    if jax.process_count() == 1:
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True, enable_async_checkpointing=False)
    else:
        if write:
            os.makedirs(path, exist_ok=True)      # orbax creates no folder for a subset of processes
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=False,   # a follower never saves
                                               enable_async_checkpointing=False,
                                               multiprocessing_options=hosts.orbax_options())
    return ocp.CheckpointManager(path, options=options)


def _validate_data(config: CAAEConfig, images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.dtype != np.uint8:
        images = np.round((images_to_model(images, config) + 1.0) * 127.5).astype(np.uint8)
    else:
        images_to_model(images[:1], config)  # shape checks
        if images.shape[-1] != config.channels:
            images = np.repeat(images, config.channels, axis=-1)
    if labels.shape != (images.shape[0],) or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers of shape ({images.shape[0]},), got {labels.shape} {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= config.num_classes):
        raise ValueError(f"labels must lie in [0, {config.num_classes})")
    if images.shape[0] < config.batch_size:
        raise ValueError(f"{images.shape[0]} images are fewer than one batch of {config.batch_size}")
    return images, labels.astype(np.int32)


def data_fingerprint(config: CAAEConfig, images: np.ndarray, labels: np.ndarray) -> str:
    """SHA-256 of a training set as `train` sees it (validated uint8 images and labels):
    a checkpoint records it, so resuming on other data of the same size is refused."""
    return _sha256(*_validate_data(config, images, labels))


def _sha256(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(str((a.shape, a.dtype.str)).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def train(
    config: CAAEConfig,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    seed: int = 0,
    ckpt_dir: str | None = None,
    keep: int = 2,
    stop_after_epochs: int | None = None,
    vgg: VGGFaceWeights | None = None,
    identity: IdentityNetParams | None = None,
    progress: bool = True,
    log: Callable[[dict], Any] | None = None,
    step_log: Callable[[int, dict], Any] | None = None,
    heldout: tuple[np.ndarray, np.ndarray] | None = None,
    identities: np.ndarray | None = None,
    mesh: jax.sharding.Mesh | None = None,
) -> tuple[CAAEState, list[dict]]:
    """Train for `config.epochs` epochs (resuming from `ckpt_dir` when it holds a checkpoint).

    images: [N, H, W, C] uint8 (or float in [0, 1]); labels: int [N] expressions.
    `stop_after_epochs` ends the run early without changing the schedule (an interruption).
    Returns the final state and the per-epoch metric history (means over the epoch's steps).
    log(record) gets each epoch's record, step_log(step, metrics) every step's metrics (the
    training curves: `caae.curves.Curves`); heldout = (images, labels) of faces not trained
    on adds their figures to each epoch's record (`heldout_metrics`). identities [N]: each
    face's identity, needed by the paired term (`config.uses_pairs`; its partners are drawn
    from `PairTable` with a generator seeded by (seed, step), so a resume draws the same).
    mesh: train data-parallel over its devices (`sharding.subject_mesh(n, "batch")`;
    batch_size a multiple of their count); on several processes only the writer saves.
    """
    images, labels = _validate_data(config, images, labels)
    if config.identity_weight > 0 and config.identity_net == "vgg-face" and vgg is None:
        raise ValueError("identity_weight > 0 needs VGG-Face weights (vgg=load_vgg_face_mat(path))")
    if config.identity_weight > 0 and config.identity_net == "synthetic" and identity is None:
        raise ValueError("identity_net 'synthetic' needs the identity network (identity=caae.identity_net.train(...))")
    n = images.shape[0]
    pairs = None
    if config.uses_pairs:
        if identities is None or np.shape(identities) != (n,):
            raise ValueError(f"the paired term (paired_weight / paired_latent_weight > 0) needs each face's "
                             f"identity: identities [{n}], got {None if identities is None else np.shape(identities)}")
        pairs = PairTable(np.asarray(identities), labels, config.num_classes)
    parallel = mesh is not None and mesh.devices.size > 1
    if parallel and config.batch_size % mesh.devices.size:
        raise ValueError(f"data-parallel training splits each batch over the {mesh.devices.size} devices: "
                         f"batch_size {config.batch_size} is not a multiple of it")
    writer = hosts.is_writer()
    steps_per_epoch = n // config.batch_size
    total = steps_per_epoch * config.epochs
    k_init, k_data, k_step = jax.random.split(jax.random.key(seed), 3)
    state = CAAEState.create(config, k_init, total)
    history: list[dict] = []
    start_epoch = 0
    mngr = None
    if ckpt_dir is not None and (writer or os.path.isdir(ckpt_dir)):
        mngr = _manager(ckpt_dir, keep, write=writer)
    meta = {"config": _config_dict(config), "seed": seed, "n_images": n,
            "data_sha256": _sha256(images, labels)}  # = data_fingerprint: already validated
    if mngr is not None and mngr.latest_step() is not None:
        step = mngr.latest_step()
        saved = mngr.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
        for k in ("config", "seed", "n_images", "data_sha256"):
            try:
                have = _saved_config(saved["config"]) if k == "config" and "config" in saved else saved.get(k)
            except ValueError as e:
                raise ValueError(f"checkpoint in {ckpt_dir!r}: {e}") from None
            if have != meta[k]:
                raise ValueError(f"checkpoint in {ckpt_dir!r} was made with a different {k}: {saved.get(k)} ≠ "
                                 f"{meta[k]}; remove it or choose another checkpoint directory")
        state = jax.tree.map(jnp.asarray, _restore_state(mngr, step, state, config))
        history = saved["history"]
        start_epoch = int(state.step) // steps_per_epoch
    end_epoch = config.epochs if stop_after_epochs is None else min(config.epochs, stop_after_epochs)
    step_fn, place, shared = train_step, (lambda tree: tree), (lambda tree: tree)
    if parallel:
        step_fn = parallel_train_step(mesh)
        place, shared = functools.partial(sharding.split, mesh=mesh), functools.partial(sharding.replicate, mesh=mesh)
        state, vgg, identity = shared((state, vgg, identity))
    for epoch in range(start_epoch, end_epoch):
        perm = np.asarray(jax.random.permutation(jax.random.fold_in(k_data, epoch), n))
        sums: dict[str, float] = {}
        bar = tqdm(range(steps_per_epoch), desc=f"CAAE epoch {epoch + 1}/{config.epochs}",
                   disable=not progress, leave=False)
        for i in bar:
            idx = np.sort(perm[i * config.batch_size : (i + 1) * config.batch_size])
            t = epoch * steps_per_epoch + i
            key_t = jax.random.fold_in(k_step, t)
            extra = {}
            if pairs is not None:
                targets = np.asarray(step_conditions(key_t, labels[idx], config.num_classes))
                partner, has = pairs.partners(idx, targets, np.random.default_rng([seed, t]))
                extra = {"pair_images": images[partner], "pair_mask": has}
            x_t, y_t, extra = place((images[idx], labels[idx], extra))
            state, m = step_fn(config, state, x_t, y_t, shared(key_t), vgg, identity, **extra)
            m = sharding.local_copy(m)
            if step_log is not None:
                step_log(t + 1, m)
            for k, v in m.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            if i % 10 == 0:
                bar.set_postfix(l1=f"{float(m['l1']):.4f}", d_img=f"{float(m['d_img']):.3f}")
        record = {"epoch": epoch + 1, **{k: v / steps_per_epoch for k, v in sums.items()}}
        if heldout is not None:
            record.update(heldout_metrics(config, _local(state) if parallel else state, *heldout))
        history.append(record)
        if log is not None:
            log(record)
        if mngr is not None and writer:
            mngr.save(
                int(sharding.local_copy(state.step)),
                args=ocp.args.Composite(
                    state=ocp.args.StandardSave(sharding.local_copy(state) if parallel else state),
                    meta=ocp.args.JsonSave({**meta, "history": history, "done": epoch + 1 == config.epochs}),
                ),
            )
    if mngr is not None:
        mngr.wait_until_finished()
        mngr.close()
    return (_local(state) if parallel else state), history


def _local(state: CAAEState) -> CAAEState:
    """A replicated (possibly multi-host) state as this process's own single-device copy."""
    return jax.tree.map(jnp.asarray, sharding.local_copy(state))


def _heldout_batch(config: CAAEConfig, ae_params: dict, x: jax.Array, y: jax.Array) -> dict:
    c_other = (y + 1) % config.num_classes
    z, recon, _, logits_z, logits_imag = _forward_ae(config.replace(imagine_class_weight=1.0), ae_params, x, y, c_other)
    acc = lambda logits, t: jnp.sum((jnp.argmax(logits, -1) == t).astype(jnp.float32))  # noqa: E731
    return {"l1": jnp.sum(jnp.mean(jnp.abs(recon - x), axis=(1, 2, 3))),
            "latent_acc": acc(logits_z, y), "imagine_acc": acc(logits_imag, c_other)}


_heldout_batch_jit = jax.jit(_heldout_batch, static_argnames=("config",))


def heldout_metrics(config: CAAEConfig, state: CAAEState, images: np.ndarray, labels: np.ndarray,
                    batch_size: int = 128) -> dict:
    """Figures on faces not trained on (uint8 images [N, H, W, C], labels [N]):
    heldout_l1 (reconstruction), heldout_latent_acc (the latent head reads y from z) and
    heldout_imagine_acc (it reads c = y + 1 mod K from E(G(z, c)))."""
    x, y = _validate_data(config.replace(batch_size=2), images, labels)
    sums = {}
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size].astype(np.float32) / 127.5 - 1.0
        out = jax.device_get(_heldout_batch_jit(config, state.ae_params, xb, y[i:i + batch_size]))
        for k, v in out.items():
            sums[k] = sums.get(k, 0.0) + float(v)
    return {f"heldout_{k}": v / len(x) for k, v in sums.items()}


def restore_params(config: CAAEConfig, ckpt_dir: str) -> tuple[CAAEParams, dict]:
    """The latest checkpoint's encoder + generator and its metadata (history, done flag).

    Raises FileNotFoundError when `ckpt_dir` is missing or holds no checkpoint, and
    ValueError when it was made with another config.
    """
    if not os.path.isdir(ckpt_dir):
        raise FileNotFoundError(f"checkpoint directory {ckpt_dir!r} does not exist")
    mngr = _manager(ckpt_dir, 1, write=jax.process_count() == 1)
    step = mngr.latest_step()
    if step is None:
        raise FileNotFoundError(f"no CAAE checkpoint in {ckpt_dir!r}")
    meta = mngr.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
    try:
        saved = _saved_config(meta["config"])
    except ValueError as e:
        raise ValueError(f"checkpoint in {ckpt_dir!r}: {e}") from None
    if saved != _config_dict(config):
        raise ValueError(f"checkpoint in {ckpt_dir!r} was made with another config ({meta['config'].get('name')})")
    abstract = jax.eval_shape(lambda k: CAAEState.create(config, k, 1), jax.random.key(0))
    state = jax.tree.map(jnp.asarray, _restore_state(mngr, step, abstract, config))
    mngr.close()
    return state.inference_params(config), meta


def save_json(path: str, obj: dict) -> None:
    """Write metrics as pretty JSON (creating parent directories)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
