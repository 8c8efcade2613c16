"""The two forms of a step's row updates (`gwr.rows`, docs/gwr.md "Row updates: scatter or
dense"): the dense form gives the same network as the scatter form and the reference."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from clifer_jax import gwr
from clifer_jax.gwr import rows
from test_gwr_reference import CASES, train_beside_reference
import gwr_jit

pytestmark = pytest.mark.filterwarnings("ignore:GWR network full")

EXACT = ("active", "neighbours", "edge_birth", "successors", "transitions", "label_hist", "created",
         "next_id", "t", "num_nodes", "refused_insertions", "edge_overflow", "temporal_overflow", "pruned_at",
         "prev_bmu")


def assert_same_structure(a, b, atol=1e-5):
    """The same network: every discrete field equal, the floats within atol (the squared
    norms can differ in the last bit, see `gwr.rows`)."""
    for f in EXACT:
        np.testing.assert_array_equal(np.asarray(getattr(a, f)), np.asarray(getattr(b, f)), err_msg=f)
    for f in ("weights", "habituation", "prev_weights"):
        np.testing.assert_allclose(np.asarray(getattr(a, f)), np.asarray(getattr(b, f)), atol=atol, err_msg=f)
    np.testing.assert_allclose(np.asarray(a.sq_norms), np.asarray(b.sq_norms), rtol=1e-5, atol=atol)


def test_rounded_keeps_values_and_rejects_nothing():
    x = jnp.asarray([0.0, -0.0, 1.5, -3.25e-30, np.inf], jnp.float32)
    out = jax.jit(rows.rounded)(x, jnp.int32(7))
    assert np.asarray(out).tobytes() == np.asarray(x).tobytes()
    assert rows.rounded(jnp.ones(3, jnp.bfloat16), jnp.int32(0)).dtype == jnp.bfloat16


@pytest.mark.parametrize("name", list(CASES))
def test_dense_rows_match_the_numpy_reference(name):
    """The reference cases of tests/test_gwr_reference.py with `row_updates="dense"`."""
    train_beside_reference(name, True, row_updates="dense")


@pytest.mark.parametrize("kw", [
    dict(context=0, max_degree=64),
    dict(context=2, max_degree=2),                       # neighbour lists overflow
    dict(context=2, distance="gdm", regulated=True),
], ids=["K0", "K2-overflow", "K2-gdm-regulated"])
def test_dense_equals_scatter_vmapped(kw):
    """Three networks vmapped, four calls of two epochs: the dense form holds the same
    networks as the scatter form."""
    rng = np.random.default_rng(3)
    d, t = 5, 90
    x = jnp.asarray(rng.normal(0, 1, (3, t, d)).astype(np.float32))
    y = jnp.asarray(rng.integers(-1, 3, (3, t, 2)).astype(np.int32))
    v = jnp.asarray(rng.random((3, t)) < 0.9)
    out = {}
    for mode in ("scatter", "dense"):
        cfg = gwr.GWRConfig(dim=d, capacity=40, max_nodes=30, num_heads=2, num_classes=3,
                            row_updates=mode, **kw)
        p = gwr.GWRParams(activity_threshold=0.6, habituation_threshold=0.7, eps_n=0.05,
                          max_age=8).cast(cfg.dtype)
        s = jax.vmap(lambda x, y: gwr.init_unchecked(cfg, p, x[:2], y[:2]))(x, y)
        f = jax.jit(jax.vmap(lambda s, x, y, v: gwr.train_unchecked(cfg, p, s, x, y, v, epochs=2)))
        s = f(f(s, x, y, v), x[:, ::-1], y[:, ::-1], v)
        out[mode] = f(f(s, x[:, ::2], y[:, ::2], v[:, ::2]), x[:, 1::2], y[:, 1::2], v[:, 1::2])
    assert_same_structure(out["scatter"], out["dense"])
    assert int(np.min(np.asarray(out["dense"].num_nodes))) > 5
    if kw.get("max_degree") == 2:
        assert int(np.min(np.asarray(out["dense"].edge_overflow))) > 0


def test_dense_step_writes_only_the_changed_rows():
    """One adapting step: exactly the BMU and its neighbours change; the rest keep their bits."""
    cfg = gwr.GWRConfig(dim=4, capacity=32, num_heads=1, num_classes=3, row_updates="dense")
    params = gwr.GWRParams(activity_threshold=0.3, habituation_threshold=0.9, eps_n=0.05)
    p = params.cast(cfg.dtype)
    rng = np.random.default_rng(1)
    xs = jnp.asarray(rng.normal(0, 1, (60, 4)).astype(np.float32))
    ys = jnp.zeros((60, 1), jnp.int32)
    s = gwr_jit.train_unchecked(cfg, p, gwr.init(cfg, xs[:2], params=params), xs, ys, jnp.ones(60, bool))
    node = int(np.flatnonzero(np.asarray(s.active))[3])
    new = jax.jit(lambda s, x, y: gwr.step_unchecked(cfg, p, s, x, y))(s, s.weights[node, 0] + 0.01, ys[5])
    b = int(new.prev_bmu)
    assert int(new.num_nodes) == int(s.num_nodes) and b == node       # an adaptation of that node
    changed = np.flatnonzero(np.any(np.asarray(new.weights) != np.asarray(s.weights), axis=(1, 2)))
    nbrs = np.flatnonzero(np.asarray(gwr.edge_matrix(new))[b])
    assert set(changed.tolist()) <= {b, *nbrs.tolist()} and b in changed
    assert len(nbrs) > 0
    same = np.setdiff1d(np.arange(cfg.capacity), changed)
    assert np.asarray(new.sq_norms)[same].tobytes() == np.asarray(s.sq_norms)[same].tobytes()


@pytest.mark.parametrize("networks", [None, 8])
def test_dense_loop_body_copies_no_quadratic_array(networks):
    """The scatter form's HLO check (tests/test_gwr_properties.py) for the dense form. Its
    step rewrites the N×D weights by design, and unbatched XLA also copies them once per
    step (the indexed read of the BMU's row, see `rows.dense_rows`): an O(N·D) pass, the
    order of the form's own cost. Checked: no N×k list is copied, and vmapped (the use
    the form is for) no N×D array either."""
    n, d = 64, 7
    cfg = gwr.GWRConfig(dim=d, capacity=n, num_heads=2, row_updates="dense")
    xs = jnp.zeros((10, d))
    ys = jnp.zeros((10, 2), jnp.int32)
    params = gwr.GWRParams().cast(cfg.dtype)             # traced, as the entry points pass them
    state = gwr.init_unchecked(cfg, params, xs[:2], ys[:2])
    args = (state, xs, ys, jnp.ones(10, bool))
    fn = lambda p, s, x, y, v: gwr.train_unchecked(cfg, p, s, x, y, v)  # noqa: E731
    lead = ""
    if networks:
        args = jax.tree.map(lambda a: jnp.broadcast_to(a, (networks,) + a.shape), args)
        fn, lead = jax.vmap(fn, in_axes=(None, 0, 0, 0, 0)), f"{networks},"
    hlo = jax.jit(fn).lower(params, *args).compile().as_text()
    body = hlo.split("\nENTRY")[0]
    square = re.findall(rf"= s32\[{lead}{n},{cfg.max_degree}\]\S* copy\(", body)
    assert square == [], square
    if networks:
        assert re.findall(rf"= f32\[{lead}{n},1,{d}\]\S* copy\(", body) == []
    assert "while" in hlo


def test_row_updates_is_validated():
    with pytest.raises(ValueError, match="row_updates"):
        gwr.GWRConfig(dim=3, row_updates="sparse")
