"""Writes `dense_kernel.npz`: the networks the dense-topology kernel (commit af79285, the last
release with N×N `edges`/`edge_birth`/`temporal` arrays) grew on the streams of
`tests/test_gwr_topology.py::scenarios`. Kept for provenance: it runs only against that
commit (`git worktree add /tmp/dense af79285 && cd /tmp/dense && python
<this file> <out.npz>`), since the topology is now neighbour lists.

The test compares today's kernel with these arrays bit for bit."""

import sys

import numpy as np
import jax
import jax.numpy as jnp

from clifer_jax import gdm, gwr


def stream(seed, n, dim, classes=5, spread=0.25):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-1, 1, (classes, dim))
    y = rng.integers(0, classes, n)
    # Slow drift between visits so BMU sequences (temporal links) have structure.
    x = centres[y] + spread * rng.standard_normal((n, dim)) + 0.002 * np.arange(n)[:, None]
    return x.astype(np.float32), y.astype(np.int32)


def dense_view(st, prefix, out):
    out[prefix + "edges"] = np.asarray(st.edges)
    out[prefix + "edge_birth"] = np.where(np.asarray(st.edges), np.asarray(st.edge_birth), 0)
    out[prefix + "temporal"] = np.asarray(st.temporal)
    for f in ("weights", "sq_norms", "active", "habituation", "label_hist", "created", "t", "pruned_at",
              "num_nodes", "next_id", "refused_insertions", "degree_overflow", "prev_bmu", "prev_weights"):
        out[prefix + f] = np.asarray(getattr(st, f))


def main(path):
    out = {}
    # GWR: three public calls each, episodic (K=2, two heads) and semantic (regulated, K=0).
    for name, cfg, params in (
            ("episodic", gwr.episodic_config(8, 160, context=2),
             gwr.GWRParams.episodic().replace(activity_threshold=0.7, habituation_threshold=0.5, max_age=30)),
            ("semantic", gwr.semantic_config(8, 96),
             gwr.GWRParams.semantic().replace(activity_threshold=0.75, habituation_threshold=0.9,
                                              eps_b=0.05, mod_rate=0.5, max_age=45)),
            ("dense_rows", gwr.episodic_config(8, 128, row_updates="dense"),
             gwr.GWRParams.episodic().replace(activity_threshold=0.7, max_age=20))):
        xs, ys = stream(3, 600, cfg.dim)
        heads = np.repeat(ys[:, None], cfg.num_heads, axis=1)
        st = gwr.init(cfg, xs[:2], heads[:2], params)
        for call in range(3):
            sl = slice(2 + 199 * call, 2 + 199 * (call + 1))
            st = gwr.train(cfg, st, xs[sl], heads[sl], epochs=2, params=params)
            dense_view(st, f"{name}/call{call}/", out)
    # GDM + replay, two subjects vmapped (the study's path), three class steps, K=1.
    cfg = gdm.GDMConfig(dim=8, capacity=80, semantic_capacity=40, num_classes=3, context=1,
                        batch_size=5, epochs=2, replay_epochs=2, extra_epochs=2)
    params = gdm.GDMParams(
        episodic=gwr.GWRParams.episodic().replace(activity_threshold=0.6, max_age=40),
        semantic=gwr.GWRParams.semantic().replace(activity_threshold=0.7, habituation_threshold=0.9,
                                                  eps_b=0.05, mod_rate=0.5, max_age=60))
    xs, ys = [], []
    for subject in range(2):
        x, y = stream(10 + subject, 3 * 24, cfg.dim, classes=3)
        order = np.argsort(y, kind="stable")
        xs.append(x[order].reshape(3, 24, -1))
        ys.append(y[order].reshape(3, 24))
    xs, ys = np.stack(xs), np.stack(ys)                     # [S, class, L, D]
    mask = np.ones(ys.shape[:1] + ys.shape[2:], bool)
    p = params.cast(cfg.dtype)
    init = jax.jit(jax.vmap(gdm.init_unchecked, in_axes=(None, None, 0, 0, 0)), static_argnums=0)
    learn = jax.jit(jax.vmap(gdm.learn_class_unchecked, in_axes=(None, None, 0, 0, 0, 0, None)),
                    static_argnums=(0, 6))
    st = init(cfg, p, jnp.asarray(xs[:, 0]), jnp.asarray(ys[:, 0]), jnp.asarray(mask))
    for c in range(3):
        st = learn(cfg, p, st, jnp.asarray(xs[:, c]), jnp.asarray(ys[:, c]), jnp.asarray(mask), True)
        for m in ("episodic", "semantic"):
            dense_view(getattr(st, m), f"gdm/class{c}/{m}/", out)
    np.savez_compressed(path, **out)
    print(f"wrote {len(out)} arrays to {path}")


if __name__ == "__main__":
    main(sys.argv[1])
