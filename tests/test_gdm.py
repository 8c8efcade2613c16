"""The Growing Dual Memory against the NumPy reference, under vmap, and its behaviour."""

import numpy as np
import pytest

import jax
import jax.numpy as jnp

from clifer_jax import gdm, gwr
from gdm_reference import ReferenceGDM
from gwr_jit import reference_kwargs
from test_gwr_reference import assert_same_network

pytestmark = pytest.mark.filterwarnings("ignore:.*memory full")


def small_config(context=0, capacity=40, **kw):
    """(GDMConfig, GDMParams) of a small GDM: room for every neighbour of a BMU (max_degree
    is clipped to each memory's capacity − 1). Replay is chosen per call."""
    cfg = gdm.GDMConfig(dim=6, capacity=capacity, semantic_capacity=capacity // 2, num_classes=3,
                        context=context, max_degree=capacity - 1, batch_size=5, epochs=2,
                        replay_epochs=2, extra_epochs=2, **kw)
    params = gdm.GDMParams(
        episodic=gwr.GWRParams.episodic().replace(activity_threshold=0.5, habituation_threshold=0.6,
                                                  eps_n=0.01, max_age=60),
        semantic=gwr.GWRParams.semantic().replace(activity_threshold=0.6, habituation_threshold=0.9,
                                                  eps_b=0.05, mod_rate=0.5, max_age=80))
    return cfg, params


def ref_kwargs(cfg: gwr.GWRConfig, params: gwr.GWRParams) -> dict:
    """A memory's static config and its numbers as the NumPy reference's keyword dict."""
    return reference_kwargs(cfg, params)


def class_steps(seed, classes=3, per_class=12, length=16, dim=6, spread=0.2):
    """Per class: [L, D] samples (trailing padding), labels, mask."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-1, 1, (classes, dim)) * 2
    steps = []
    for c in range(classes):
        n = per_class - c                      # classes of different sizes
        x = np.zeros((length, dim), np.float32)
        x[:n] = centres[c] + spread * rng.standard_normal((n, dim))
        x[n:] = 7.0                            # padding content must not matter
        y = np.full(length, c, np.int32)
        mask = np.arange(length) < n
        steps.append((x, y, mask))
    return steps


@pytest.mark.parametrize("replay, context", [(False, 0), (True, 0), (True, 1)],
                         ids=["gdm", "gdm-replay", "gdm-replay-K1"])
def test_gdm_matches_numpy_reference(replay, context):
    cfg, params = small_config(context=context)
    steps = class_steps(0)
    state = gdm.init(cfg, *steps[0], params=params)
    ref = ReferenceGDM(ref_kwargs(cfg.episodic, params.episodic), ref_kwargs(cfg.semantic, params.semantic),
                       batch_size=5, epochs=2, replay=replay, replay_epochs=2, extra_epochs=2)
    ref.init(*steps[0])
    for x, y, m in steps:
        state = gdm.learn_class(cfg, state, x, y, m, params, replay=replay)
        ref.learn_class(x, y, m)
        # float32 against float64 over hundreds of updates: 1e-4 (the kernel alone: 1e-5)
        assert_same_network(cfg.episodic, state.episodic, ref.ep, atol=1e-4)
        assert_same_network(cfg.semantic, state.semantic, ref.se, atol=1e-4)
    # the extra-set hook (CLIFER's imagination step)
    x, y, m = steps[1]
    state = gdm.learn_extra(cfg, state, x, y, m, params=params)
    ref.learn_extra(x, y, m)
    assert_same_network(cfg.episodic, state.episodic, ref.ep, atol=1e-4)
    assert_same_network(cfg.semantic, state.semantic, ref.se, atol=1e-4)
    assert int(state.episodic.num_nodes) > 3 and int(state.semantic.num_nodes) > 2


def test_vmap_over_six_subjects_equals_separate_runs():
    cfg, params = small_config()
    p = params.cast(cfg.dtype)
    subjects = [class_steps(s) for s in range(6)]
    stack = lambda step: tuple(jnp.asarray(np.stack([subj[step][i] for subj in subjects]))
                               for i in range(3))
    init_v = jax.jit(jax.vmap(gdm.init_unchecked, in_axes=(None, None, 0, 0, 0)), static_argnums=0)
    learn_v = jax.jit(jax.vmap(lambda cfg, p, s, x, y, m: gdm.learn_class_unchecked(cfg, p, s, x, y, m, replay=True),
                               in_axes=(None, None, 0, 0, 0, 0)), static_argnums=0)
    batched = init_v(cfg, p, *stack(0))
    for step in range(3):
        batched = learn_v(cfg, p, batched, *stack(step))
    for i, subj in enumerate(subjects):
        single = gdm.init(cfg, *subj[0], params=params)
        for x, y, m in subj:
            single = gdm.learn_class(cfg, single, x, y, m, params, replay=True)
        for a, b in zip(jax.tree.leaves(single), jax.tree.leaves(batched)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b)[i], atol=1e-6)
    assert len(set(np.asarray(batched.episodic.num_nodes).tolist())) > 1


def test_pseudo_samples_follow_temporal_links():
    cfg = gwr.GWRConfig(dim=2, capacity=6, context=2, num_heads=1, num_classes=3)
    state = gwr.empty(cfg)
    w = jnp.arange(6 * 3 * 2, dtype=jnp.float32).reshape(6, 3, 2)
    temporal = np.zeros((6, 6), np.int32)
    temporal[0, 3] = 2; temporal[0, 1] = 1          # 0 -> 3 (the larger count)
    temporal[3, 4] = 5                                # 3 -> 4
    temporal[1, 2] = 1; temporal[1, 4] = 1            # tie: lower index, 1 -> 2
    hist = np.zeros((1, 6, 3), np.float32)
    hist[0, np.arange(6), [0, 1, 2, 0, 1, 2]] = 1
    state = state.replace(weights=w, active=jnp.array([1, 1, 1, 1, 1, 0], bool), created=jnp.arange(6),
                          label_hist=jnp.asarray(hist))
    state = gwr.with_topology(state, temporal=temporal)
    p = gdm.pseudo_samples_unchecked(state, 5)
    paths = {0: [0, 3, 4, 4, 4], 1: [1, 2, 2, 2, 2], 3: [3, 4, 4, 4, 4], 4: [4, 4, 4, 4, 4]}
    for i, path in paths.items():
        np.testing.assert_array_equal(np.asarray(p.samples[i]), np.asarray(w)[path, 0])
        np.testing.assert_array_equal(np.asarray(p.labels[i]), np.array([0, 1, 2, 0, 1, 2])[path])
    np.testing.assert_array_equal(np.asarray(p.valid), [1, 1, 1, 1, 1, 0])


def test_semantic_memory_changes_only_on_mispredicted_samples():
    cfg, params = small_config()
    x, y, m = class_steps(1)[0]
    state = gdm.init(cfg, x, y, m, params)
    se_cfg = cfg.semantic
    # Both initial semantic nodes predict class 0: class-0 samples change nothing.
    same = gwr.train(se_cfg, state.semantic, x[m], np.zeros((m.sum(), 1), np.int32), epochs=3,
                     params=params.semantic)
    for field in ("weights", "habituation", "neighbours", "edge_birth", "label_hist", "active", "t"):
        # (prev_weights / prev_bmu follow every valid sample: the context, not learning)
        np.testing.assert_array_equal(np.asarray(getattr(state.semantic, field)),
                                      np.asarray(getattr(same, field)))
    changed = gwr.train(se_cfg, state.semantic, x[m], np.ones((m.sum(), 1), np.int32), epochs=3,
                        params=params.semantic)
    assert int(changed.t) > 0
    assert not np.array_equal(np.asarray(changed.weights), np.asarray(state.semantic.weights))


def test_capacity_saturation_is_counted_and_warned():
    cfg, params = small_config(capacity=8)
    steps = class_steps(2, per_class=14)
    state = gdm.init(cfg, *steps[0], params=params)
    with pytest.warns(RuntimeWarning, match="memory full"):
        for x, y, m in steps:
            state = gdm.learn_class(cfg, state, x, y, m, params)
    assert int(state.episodic.refused_insertions) > 0
    assert int(state.episodic.num_nodes) <= 8


def test_episodic_memory_remembers_first_class_after_third():
    """Three well-separated classes learned one after another: no forgetting of class 1."""
    cfg = gdm.GDMConfig(dim=20, capacity=128, num_classes=3)
    rng = np.random.default_rng(3)
    centres = np.eye(3, 20) * 4.0
    data = []
    for c in range(3):
        x = (centres[c] + 0.3 * rng.standard_normal((30, 20))).astype(np.float32)
        data.append((x, np.full(30, c, np.int32), np.ones(30, bool)))
    state = gdm.init(cfg, *data[0])
    for x, y, m in data:
        state = gdm.learn_class(cfg, state, x, y, m, replay=True)
    test = (centres[0] + 0.3 * rng.standard_normal((50, 20))).astype(np.float32)
    pred = gdm.predict(cfg, state, test)
    assert float(np.mean(np.asarray(pred.episodic.labels[:, 0]) == 0)) >= 0.9
    all_test = np.concatenate([(centres[c] + 0.3 * rng.standard_normal((20, 20))) for c in range(3)])
    acc = np.mean(np.asarray(gdm.predict(cfg, state, all_test.astype(np.float32)).episodic.labels[:, 0])
                  == np.repeat(np.arange(3), 20))
    assert acc >= 0.9


def test_bad_input_is_rejected():
    cfg, params = small_config()
    x, y, m = class_steps(0)[0]
    with pytest.raises(ValueError, match="at least 2 valid"):
        gdm.init(cfg, x, y, np.eye(1, 16, dtype=bool)[0], params)
    state = gdm.init(cfg, x, y, m, params)
    bad = y.copy(); bad[0] = 5
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        gdm.learn_class(cfg, state, x, bad, m)
    with pytest.raises(ValueError, match="must both be"):
        gdm.learn_class(cfg, state, x, y[:5], m)
    with pytest.raises(ValueError, match=r"shape \[\.\.\., 6\]"):
        gdm.learn_class(cfg, state, x[:, :4], y, m)
    nan = x.copy(); nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        gdm.learn_class(cfg, state, nan, y, m)
    # The memories' kinds are fixed by the flat config: episodic unregulated, semantic regulated.
    assert not cfg.episodic.regulated and cfg.semantic.regulated
    assert (cfg.episodic.num_heads, cfg.semantic.num_heads) == (2, 1)
    with pytest.raises(TypeError, match="episodic"):
        gdm.GDMConfig(dim=6, capacity=40, episodic=cfg.semantic)
    with pytest.raises(ValueError, match="dim and capacity"):
        gdm.learn_class(gdm.GDMConfig(dim=6), state, x, y, m)


def test_replay_in_creation_order_matches_compacting_reference():
    """Short episodic edge lives: nodes are removed at the end of training calls and
    new ones take their slots. Replay walks the trajectories in creation order (the
    reference's: it compacts its arrays), so both memories equal a NumPy GDM whose
    networks compact on removal, node for node, after every class step. Replayed in
    slot order, the episodic memory ended the third step with 6 nodes against the
    reference's 7 on this stream."""
    from test_gwr_creation_order import assert_same_compacted_network, reused_slot

    cfg, base = small_config()
    params = base.replace(episodic=base.episodic.replace(max_age=10))
    steps = class_steps(2, per_class=10, length=12)
    ref = ReferenceGDM(dict(ref_kwargs(cfg.episodic, params.episodic), compact=True),
                       dict(ref_kwargs(cfg.semantic, params.semantic), compact=True),
                       batch_size=5, epochs=2, replay=True, replay_epochs=2)
    state = gdm.init(cfg, *steps[0], params=params)
    ref.init(*steps[0])
    seen = []
    for x, y, m in steps:
        state = gdm.learn_class(cfg, state, x, y, m, params, replay=True)
        ref.learn_class(x, y, m)
        perms = [assert_same_compacted_network(mem, r, atol=1e-4)
                 for mem, r in ((state.episodic, ref.ep), (state.semantic, ref.se))]
        # The next replay's order: trajectory k starts at the k-th oldest episodic node.
        p = gdm.pseudo_samples_unchecked(state.episodic, cfg.trajectory_length)
        n = int(state.episodic.num_nodes)
        np.testing.assert_allclose(np.asarray(p.samples[:n, 0]), ref.ep.W[:n, 0], atol=1e-4)
        seen.append((state, perms))
    # Creation order is the reference's node order, also where a freed slot was reused.
    for st, perms in seen:
        for mem, perm in zip((st.episodic, st.semantic), perms):
            np.testing.assert_array_equal(np.asarray(gwr.creation_order(mem))[:len(perm)], perm)
    assert any(reused_slot(st.episodic) for st, _ in seen), "the stream should reuse a freed slot"
