"""Cost that follows the active nodes (docs/gwr.md, "Capacity headroom"): the high-water
block, length buckets, donation, the replay pass, with results identical to the kernel
run on the whole capacity."""

import importlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from clifer_jax import gdm, gwr
from clifer_jax.gdm.memory import _heads
from clifer_jax.gwr import blocks
from gwr_reference import ReferenceGWR
from test_gwr_reference import assert_same_network
import gwr_jit
from gwr_jit import reference_kwargs, split

train_mod = importlib.import_module("clifer_jax.gwr.train")
pytestmark = pytest.mark.filterwarnings("ignore:.*(memory|network) full")


def stream(seed, n, dim, classes=3):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, dim)).astype(np.float32)
    y = rng.integers(0, classes, (n, 2)).astype(np.int32)
    return x, y


def assert_same_state(a, b, fields=None):
    for f in fields or list(a.__dataclass_fields__):
        np.testing.assert_array_equal(np.asarray(getattr(a, f)), np.asarray(getattr(b, f)), err_msg=f)


def leading(state, n):
    """The leading n slots of a state (to compare networks held at different capacities)."""
    return blocks.take_block(state, n).replace(max_nodes=state.max_nodes)


def test_bucket_lengths_and_block_sizes():
    assert [blocks.bucket_length(t) for t in (0, 1, 8, 9, 13, 24, 25, 33, 174, 183, 192, 193)] == \
        [0, 8, 8, 12, 16, 24, 32, 48, 192, 192, 192, 256]
    assert all(blocks.bucket_length(t) >= t and 3 * (blocks.bucket_length(t) - t) <= blocks.bucket_length(t)
               for t in range(8, 2000))                                # at most a third padding
    assert blocks.block_size(4096, 1000) == 1024 and blocks.block_size(4096, 1025) == 2048
    assert blocks.block_size(1500, 1025) == 1500 and blocks.block_size(4096, 3) == blocks.MIN_BLOCK


@pytest.mark.parametrize("context", [0, 2])
def test_train_equals_the_reference_at_several_capacities(context):
    """The same stream at capacities 96, 256 and 1,024: each equals the NumPy reference
    (at its capacity), and all hold the same network in their leading slots."""
    dim = 5
    x, y = stream(0, 240, dim)
    kw = dict(dim=dim, context=context, max_age=15, activity_threshold=0.55,
              habituation_threshold=0.7, eps_n=0.01, num_heads=2, num_classes=3, max_nodes=90)
    states = []
    for cap in (96, 256, 1024):
        cfg, params = split(dict(capacity=cap, **kw))
        state = gwr.init(cfg, x[:2], y[:2], params)
        ref = ReferenceGWR(**reference_kwargs(cfg, params))
        ref.init(x[:2].astype(np.float64), y[:2])
        for call in range(3):
            sl = slice(80 * call, 80 * (call + 1))
            state = gwr.train(cfg, state, x[sl], y[sl], epochs=2, params=params)
            ref.train(x[sl].astype(np.float64), y[sl], epochs=2)
        assert_same_network(cfg, state, ref)
        states.append(state)
    assert int(states[0].num_nodes) > 20
    for s in states[1:]:
        assert_same_state(leading(s, 96), states[0])


def test_a_network_that_outgrows_its_block_equals_one_that_started_large():
    """Calls through `gwr.train` (blocks of 64, 128, 256 as the network grows, state
    donated) against `train_unchecked` on the whole capacity: identical states."""
    dim, t = 8, 20
    cfg = gwr.GWRConfig(dim=dim, capacity=512, num_heads=2, num_classes=3)
    params = gwr.GWRParams(max_age=100, activity_threshold=0.7, habituation_threshold=0.8, eps_n=0.01)
    x, y = stream(1, 12 * t, dim)
    small = gwr.init(cfg, x[:2], y[:2], params)
    large = jax.tree.map(jnp.copy, small)
    seen = []
    for call in range(12):
        sl = slice(t * call, t * (call + 1))
        need = max(blocks.high_water(small), min(int(small.max_nodes),
                                                 int(small.num_nodes) + blocks.bucket_length(t)))
        seen.append(blocks.block_size(cfg.capacity, need))
        small = gwr.train(cfg, small, x[sl], y[sl], params=params, donate=True)
        large = gwr_jit.train_unchecked(cfg, params.cast(cfg.dtype), large, jnp.asarray(x[sl]),
                                        jnp.asarray(y[sl]), jnp.ones(t, bool))
        assert_same_state(small, large)
    assert seen[0] < cfg.capacity and len(set(seen)) >= 2, seen     # it crossed a boundary


def test_class_steps_of_174_to_183_samples_compile_once():
    dim = 3
    cfg = gwr.GWRConfig(dim=dim, capacity=256, num_heads=2, num_classes=3)
    x, y = stream(2, 183, dim)
    state = gwr.init(cfg, x[:2], y[:2])
    before = train_mod._train_block_jit._cache_size()
    for t in range(174, 184):
        gwr.train(cfg, state, x[:t], y[:t])
    assert train_mod._train_block_jit._cache_size() - before == 1


@pytest.mark.parametrize("donate", [False, True], ids=["plain", "donated"])
@pytest.mark.parametrize("block", [64, None], ids=["block64", "whole"])
def test_no_array_of_the_call_is_n_by_n(donate, block):
    """The compiled public call at capacity N = 1,024 (on a block of 64 slots, and on the
    whole capacity), donated or not, one network or three vmapped: no instruction has an
    N×N shape (the topology is N×k lists), and the donated call aliases its state."""
    n, d = 1024, 5
    cfg = gwr.GWRConfig(dim=d, capacity=n, num_heads=2)
    xs, ys = jnp.zeros((16, d)), jnp.zeros((16, 2), jnp.int32)
    params = gwr.GWRParams().cast(cfg.dtype)             # as `gwr.train` passes them
    state = gwr.init_unchecked(cfg, params, xs[:2], ys[:2])
    fn = train_mod._train_block_jit_donated if donate else train_mod._train_block_jit
    hlo = fn.lower(cfg, params, state, xs, ys, jnp.ones(16, bool), epochs=1, remove_isolated=True,
                   block=block or n).compile().as_text()
    assert ("input_output_alias" in hlo) == donate
    assert not re.search(rf"\[(?:\d+,)*{n},{n}[\],]", hlo)
    vmapped = jax.jit(jax.vmap(lambda s, x, y, v: gwr.train_unchecked(cfg, params, s, x, y, v)))
    batch = jax.tree.map(lambda a: jnp.broadcast_to(a, (3,) + a.shape), (state, xs, ys, jnp.ones(16, bool)))
    assert not re.search(rf"\[(?:\d+,)*{n},{n}[\],]", vmapped.lower(*batch).compile().as_text())


def _grown_pair(context: int):
    cfg = gdm.GDMConfig(dim=6, capacity=128, num_classes=3, replay_epochs=2, context=context)
    short = dict(max_age=8, activity_threshold=0.6, habituation_threshold=0.7)
    params = gdm.GDMParams(episodic=gwr.GWRParams.episodic().replace(**short),
                           semantic=gwr.GWRParams.semantic().replace(**short))
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (300, 6)).astype(np.float32)
    y = rng.integers(0, 3, 300).astype(np.int32)
    ep = gwr.train(cfg.episodic, gwr.init(cfg.episodic, x[:2], params=params.episodic), x, _heads(y, 2),
                   remove_isolated=False, params=params.episodic)
    se = gwr.train(cfg.semantic, gwr.init(cfg.semantic, x[:2], params=params.semantic), x[::-1].copy(),
                   _heads(y, 1), remove_isolated=False, params=params.semantic)
    return cfg, params.cast(cfg.dtype), ep, se


@pytest.mark.parametrize("context", [0, 1])
def test_replay_pass_equals_one_training_call_per_trajectory(context):
    """The one-loop pass (chunks of trajectories in a while loop) against a `train_unchecked`
    call per trajectory; the edge lives are short, so nodes are removed and slots reused."""
    cfg, p, ep, se = _grown_pair(context)
    ps = gdm.pseudo_samples_unchecked(ep, cfg.trajectory_length)
    new_ep, new_se = jax.jit(gdm.replay_unchecked, static_argnums=0)(cfg, p, ep, se, ps)
    old_ep, old_se = ep, se
    for i in np.flatnonzero(np.asarray(ps.valid)):
        xs, ys, v = ps.samples[i], ps.labels[i], jnp.ones(cfg.trajectory_length, bool)
        old_ep = gwr_jit.train_unchecked(cfg.episodic, p.episodic, old_ep, xs, _heads(ys, 2), v,
                                         epochs=cfg.replay_epochs)
        old_se = gwr_jit.train_unchecked(cfg.semantic, p.semantic, old_se, xs, _heads(ys, 1), v,
                                         epochs=cfg.replay_epochs)
    assert int(old_ep.next_id) > int(ep.next_id) and int(old_ep.num_nodes) < int(ep.num_nodes)
    assert_same_state(new_ep, old_ep)
    assert_same_state(new_se, old_se)


@pytest.mark.parametrize("capacity", [64, pytest.param(256, marks=pytest.mark.slow)])
def test_gdm_class_steps_through_blocks_equal_the_whole_capacity(capacity):
    """`gdm.learn_class` (blocks, length buckets, donation) against `learn_class_unchecked`
    on the whole state, with replay, over class steps of 37–40 samples."""
    cfg = gdm.GDMConfig(dim=8, capacity=capacity, num_classes=4, epochs=2)
    rng = np.random.default_rng(4)
    steps = []
    for c in range(4):
        n = 37 + c
        x = (rng.uniform(-1, 1, (1, 8)) + 0.6 * rng.standard_normal((n, 8))).astype(np.float32)
        steps.append((x, np.full(n, c, np.int32), rng.uniform(size=n) > 0.1))
    fast = gdm.init(cfg, *steps[0])
    whole = jax.tree.map(jnp.copy, fast)
    learn = jax.jit(gdm.learn_class_unchecked, static_argnums=0, static_argnames="replay")
    p = gdm.GDMParams().cast(cfg.dtype)
    for x, y, m in steps:
        fast = gdm.learn_class(cfg, fast, x, y, m, replay=True, donate=True)
        whole = learn(cfg, p, whole, x, y, m, replay=True)
    assert int(fast.episodic.num_nodes) > 20
    assert_same_state(fast.episodic, whole.episodic)
    assert_same_state(fast.semantic, whole.semantic)
    np.testing.assert_array_equal(fast.samples_seen, whole.samples_seen)


def test_a_batch_runs_at_its_largest_members_block():
    """`train_sharded` on two networks of different sizes (one block for both, the larger
    one's) equals `vmap(train_unchecked)` on the whole capacity."""
    dim, t = 6, 40
    cfg = gwr.GWRConfig(dim=dim, capacity=512, num_heads=2, num_classes=3)
    params = gwr.GWRParams(max_age=50, activity_threshold=0.7, habituation_threshold=0.8)
    p = params.cast(cfg.dtype)
    x, y = stream(5, 4 * t, dim)
    xs = np.stack([x[:2 * t], x[2 * t:]])
    ys = np.stack([y[:2 * t], y[2 * t:]])
    a = gwr.init(cfg, xs[0, :2], ys[0, :2], params)
    a = gwr.train(cfg, a, xs[0, :t], ys[0, :t], params=params)  # the larger network
    b = gwr.init(cfg, xs[1, :2], ys[1, :2], params)
    both = jax.tree.map(lambda u, v: jnp.stack([u, v]), a, b)
    fast = gwr.train_sharded(cfg, both, xs[:, t:], ys[:, t:], params=params)
    whole = jax.jit(jax.vmap(lambda s, x, y: gwr_jit.train_unchecked(cfg, p, s, x, y, jnp.ones(t, bool))))(
        both, jnp.asarray(xs[:, t:]), jnp.asarray(ys[:, t:]))
    assert int(fast.num_nodes[0]) != int(fast.num_nodes[1])
    assert_same_state(fast, whole)


def test_gdm_sharded_class_steps_equal_vmapped_whole_capacity():
    cfg = gdm.GDMConfig(dim=8, capacity=256, num_classes=3, epochs=2)
    rng = np.random.default_rng(6)
    x = (rng.uniform(-1, 1, (2, 3, 1, 8)) + 0.6 * rng.standard_normal((2, 3, 30, 8))).astype(np.float32)
    y = np.broadcast_to(np.arange(3)[None, :, None], (2, 3, 30)).astype(np.int32)
    m = rng.uniform(size=(2, 3, 30)) > np.array([0.1, 0.5])[:, None, None]   # subjects differ
    fast = gdm.init_sharded(cfg, x[:, 0], y[:, 0], m[:, 0])
    whole = fast
    p = gdm.GDMParams().cast(cfg.dtype)
    learn = jax.jit(jax.vmap(lambda cfg, p, s, x, y, m: gdm.learn_class_unchecked(cfg, p, s, x, y, m, replay=True),
                             in_axes=(None, None, 0, 0, 0, 0)), static_argnums=0)
    for c in range(3):
        fast = gdm.learn_class_sharded(cfg, fast, x[:, c], y[:, c], m[:, c], replay=True)
        whole = learn(cfg, p, whole, x[:, c], y[:, c], m[:, c])
    assert_same_state(fast.episodic, whole.episodic)
    assert_same_state(fast.semantic, whole.semantic)
