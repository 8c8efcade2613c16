"""A face-identity network trained on the CAAE's synthetic pool (docs/caae.md, "The
identity network").

SPEC §6's identity loss compares VGG-Face features of a face and of G's output; the
VGG-Face weights cannot be downloaded here. This is its synthetic counterpart: a small CNN
whose unit-length embedding is trained with a cosine-margin softmax (CosFace: logits
s·(cos θ − m·[class])) to tell the CAAE pool's training identities apart — never an
evaluation subject — then frozen and used as the perceptual identity loss on G's outputs
(`features`). Its own check is face verification on pool identities it did not train on:
pairs of two faces of one identity (different expressions) vs two identities, same/different
decided by a cosine threshold chosen on training-identity pairs (`verification`).

    net, history = train(IdentityNetConfig(), pool["image"], pool["subject"], seed=0)
    emb = embed(net, images)                        # [N, embed_dim], unit length
    losses.identity_loss(functools.partial(features, net), x, g_of_x)   # x, g in [-1, 1]
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
from flax import struct


@dataclasses.dataclass(frozen=True)
class IdentityNetConfig:
    """Static settings. features: channels of the 3×3 convs (each followed by ReLU and 2×2
    average pooling; a 5×5 stride-2 conv comes first above 32 px); embed_dim: the
    embedding's size; scale, margin: CosFace's s and m; heldout: pool identities kept out
    of training for the verification figure."""

    image_size: int = 64
    channels: int = 1
    features: tuple[int, ...] = (32, 64, 128)
    embed_dim: int = 64
    scale: float = 16.0
    margin: float = 0.2
    steps: int = 600
    batch_size: int = 64
    learning_rate: float = 2e-3
    heldout: int = 128
    log_every: int = 50

    def __post_init__(self):
        ok = (self.image_size >= 16 and self.channels in (1, 3) and self.embed_dim >= 2 and self.steps >= 1
              and self.batch_size >= 2 and self.scale > 0 and 0 <= self.margin < 1 and self.heldout >= 2
              and len(self.features) >= 1)
        if not ok:
            raise ValueError(f"invalid IdentityNetConfig: {self}")


class IdentityNet(nn.Module):
    """Images [B, H, W, C] in [-1, 1] → unit-length embeddings [B, embed_dim]."""

    config: IdentityNetConfig

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        c = self.config
        if x.shape[1] > 32:
            x = nn.relu(nn.Conv(c.features[0] // 2, (5, 5), strides=(2, 2), padding="SAME")(x))
        for f in c.features:
            x = nn.avg_pool(nn.relu(nn.Conv(f, (3, 3), padding="SAME")(x)), (2, 2), strides=(2, 2))
        e = nn.Dense(c.embed_dim)(x.reshape((x.shape[0], -1)))
        return e / jnp.sqrt(jnp.sum(e * e, axis=-1, keepdims=True) + 1e-12)


@struct.dataclass
class IdentityNetParams:
    """The frozen network: config (static) and its parameters (no head)."""

    params: Any
    config: IdentityNetConfig = struct.field(pytree_node=False)


def features(net: IdentityNetParams, images: jax.Array) -> tuple[jax.Array]:
    """The identity loss's feature list: (embedding,) of images [B, H, W, C] in [-1, 1].
    Traceable; the parameters get no gradient through the loss (they are frozen)."""
    params = jax.lax.stop_gradient(net.params)
    return (IdentityNet(net.config).apply({"params": params}, images),)


def _to_model(images, config: IdentityNetConfig) -> np.ndarray:
    x = np.asarray(images)
    if x.ndim != 4 or x.shape[1:3] != (config.image_size, config.image_size):
        raise ValueError(f"images must be [N, {config.image_size}, {config.image_size}, ch], got {x.shape}")
    if x.shape[-1] != config.channels:
        if x.shape[-1] == 1 and config.channels == 3:
            x = np.repeat(x, 3, axis=-1)
        elif x.shape[-1] == 3 and config.channels == 1:
            x = x.mean(-1, keepdims=True)
        else:
            raise ValueError(f"images have {x.shape[-1]} channels; the network expects {config.channels}")
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 127.5 - 1.0
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 1:
        raise ValueError("float images must be finite and in [0, 1]")
    return x * 2.0 - 1.0


def embed(net: IdentityNetParams, images, *, batch_size: int = 256) -> np.ndarray:
    """Embeddings [N, embed_dim] of images uint8 [N, H, W, ch] or float in [0, 1]."""
    x = _to_model(images, net.config)
    fn = jax.jit(lambda p, b: IdentityNet(net.config).apply({"params": p}, b))
    n = len(x)
    pad = np.concatenate([x, np.repeat(x[-1:], (-n) % batch_size, axis=0)]) if n % batch_size else x
    return np.concatenate([np.asarray(fn(net.params, pad[i:i + batch_size]))
                           for i in range(0, len(pad), batch_size)])[:n]


def split_identities(identities: np.ndarray, config: IdentityNetConfig) -> tuple[np.ndarray, np.ndarray]:
    """(training ids, held-out ids): the last `heldout` distinct identities are held out."""
    ids = np.unique(np.asarray(identities))
    if len(ids) < config.heldout + 2:
        raise ValueError(f"{len(ids)} identities: need at least heldout + 2 = {config.heldout + 2}")
    return ids[: -config.heldout], ids[-config.heldout:]


def pairs(identities: np.ndarray, keep: np.ndarray, key: jax.Array, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n same-identity and n different-identity pairs of sample indices among identities in
    `keep`: (i [2n], j [2n], same bool [2n]). Deterministic from key."""
    identities = np.asarray(identities)
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
    idx = np.flatnonzero(np.isin(identities, keep))
    by_id = {int(k): idx[identities[idx] == k] for k in keep}
    ks = [k for k, v in by_id.items() if len(v) >= 2]
    if len(ks) < 2:
        raise ValueError("pairs need at least two identities with two samples each")
    i, j, same = [], [], []
    for _ in range(n):
        a, b = rng.choice(by_id[int(rng.choice(ks))], 2, replace=False)
        i.append(a), j.append(b), same.append(True)
        ka, kb = rng.choice(ks, 2, replace=False)
        i.append(rng.choice(by_id[int(ka)])), j.append(rng.choice(by_id[int(kb)])), same.append(False)
    return np.array(i), np.array(j), np.array(same)


def _best_threshold(cos: np.ndarray, same: np.ndarray) -> float:
    cand = np.unique(cos)
    acc = [np.mean((cos >= t) == same) for t in cand]
    return float(cand[int(np.argmax(acc))])


def verification(net: IdentityNetParams, images, identities, *, key: jax.Array, n_pairs: int = 2000) -> dict:
    """Same/different accuracy on pairs of held-out pool identities, at the cosine threshold
    that is best on pairs of training identities. Also the mean cosine of each kind."""
    train_ids, held_ids = split_identities(identities, net.config)
    k1, k2 = jax.random.split(key)
    out = {}
    emb = None
    for name, keep, k in (("train", train_ids, k1), ("heldout", held_ids, k2)):
        i, j, same = pairs(identities, keep, k, n_pairs)
        if emb is None:
            emb = embed(net, images)
        cos = np.sum(emb[i] * emb[j], axis=-1)
        if name == "train":
            thr = _best_threshold(cos, same)
            out["threshold"] = thr
        out[f"{name}_accuracy"] = float(np.mean((cos >= out["threshold"]) == same))
        out[f"{name}_cos_same"] = float(cos[same].mean())
        out[f"{name}_cos_different"] = float(cos[~same].mean())
    out["heldout_identities"] = int(len(held_ids))
    out["pairs"] = int(2 * n_pairs)
    return out


def train(config: IdentityNetConfig, images, identities, *, seed: int = 0,
          log: Callable[[int, dict], Any] | None = None) -> tuple[IdentityNetParams, list[dict]]:
    """Train on the images of the training identities (`split_identities`) with the
    cosine-margin softmax; returns the frozen network and the loss history (every
    `log_every` steps: step, loss, accuracy of the margin-free head on the batch).
    log(step, record) is called with each record."""
    x = _to_model(images, config)
    identities = np.asarray(identities)
    if identities.shape != (len(x),):
        raise ValueError(f"identities must be [N] = [{len(x)}], got {identities.shape}")
    train_ids, _ = split_identities(identities, config)
    keep = np.flatnonzero(np.isin(identities, train_ids))
    label_of = {int(k): i for i, k in enumerate(train_ids)}
    xs = x[keep]
    ys = np.array([label_of[int(k)] for k in identities[keep]], np.int32)
    n_cls = len(train_ids)
    k_init, k_head, k_batch = jax.random.split(jax.random.key(seed), 3)
    model = IdentityNet(config)
    params = {"net": model.init(k_init, xs[:1])["params"],
              "head": jax.random.normal(k_head, (config.embed_dim, n_cls)) * 0.01}
    tx = optax.adam(optax.cosine_decay_schedule(config.learning_rate, config.steps))
    opt = tx.init(params)

    def loss_fn(p, xb, yb):
        e = model.apply({"params": p["net"]}, xb)
        w = p["head"] / jnp.sqrt(jnp.sum(p["head"] ** 2, axis=0, keepdims=True) + 1e-12)
        cos = e @ w
        onehot = jax.nn.one_hot(yb, n_cls)
        logits = config.scale * (cos - config.margin * onehot)
        loss = jnp.mean(optax.softmax_cross_entropy(logits, onehot))
        return loss, jnp.mean((jnp.argmax(cos, -1) == yb).astype(jnp.float32))

    @jax.jit
    def step(p, o, xb, yb):
        (loss, acc), g = jax.value_and_grad(loss_fn, has_aux=True)(p, xb, yb)
        upd, o = tx.update(g, o, p)
        return optax.apply_updates(p, upd), o, loss, acc

    bs = min(config.batch_size, len(xs))
    batches = np.asarray(jax.random.randint(k_batch, (config.steps, bs), 0, len(xs)))
    history, sums = [], [0.0, 0.0]
    for t in range(config.steps):
        params, opt, loss, acc = step(params, opt, xs[batches[t]], ys[batches[t]])
        sums[0] += float(loss)
        sums[1] += float(acc)
        if (t + 1) % config.log_every == 0 or t + 1 == config.steps:
            n = config.log_every if (t + 1) % config.log_every == 0 else (t + 1) % config.log_every
            rec = {"step": t + 1, "loss": sums[0] / n, "accuracy": sums[1] / n}
            history.append(rec)
            sums = [0.0, 0.0]
            if log is not None:
                log(t + 1, rec)
    return IdentityNetParams(params=params["net"], config=config), history


def save(path: str, net: IdentityNetParams, meta: dict) -> None:
    """An orbax checkpoint of the parameters, with the config and `meta` as JSON."""
    path = os.path.abspath(path)
    ckptr = ocp.PyTreeCheckpointer()
    ckptr.save(os.path.join(path, "params"), net.params, force=True)
    with open(os.path.join(path, "meta.json"), "w") as f:
        json.dump({"config": _config_dict(net.config), **meta}, f, indent=2)


def restore(path: str) -> tuple[IdentityNetParams, dict]:
    """(network, meta) from `save`; FileNotFoundError when nothing is there."""
    path = os.path.abspath(path)
    meta_path = os.path.join(path, "meta.json")
    if not os.path.isfile(meta_path):
        raise FileNotFoundError(f"no identity network at {path}")
    with open(meta_path) as f:
        meta = json.load(f)
    cfg = IdentityNetConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["config"].items()})
    params = ocp.PyTreeCheckpointer().restore(os.path.join(path, "params"))
    return IdentityNetParams(params=jax.tree.map(jnp.asarray, params), config=cfg), meta


def _config_dict(config: IdentityNetConfig) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}


def load_or_train(config: IdentityNetConfig, path: str, images, identities, *, seed: int = 0,
                  log=None) -> tuple[IdentityNetParams, dict]:
    """The network at `path` when it was trained with this config, seed and data; else
    trained (with its verification figure) and saved there. Returns (network, meta)."""
    import hashlib

    h = hashlib.sha256(np.ascontiguousarray(np.asarray(images)).tobytes())
    h.update(np.ascontiguousarray(np.asarray(identities)).tobytes())
    want = {"config": _config_dict(config), "seed": seed, "data_sha256": h.hexdigest()}
    try:
        net, meta = restore(path)
        if all(meta.get(k) == v for k, v in want.items()):
            return net, meta
    except FileNotFoundError:
        pass
    import time

    t0 = time.perf_counter()
    net, history = train(config, images, identities, seed=seed, log=log)
    seconds = time.perf_counter() - t0
    ver = verification(net, images, identities, key=jax.random.key(seed + 1))
    meta = {**want, "history": history, "verification": ver, "train_seconds": round(seconds, 1)}
    save(path, net, meta)
    return net, meta
