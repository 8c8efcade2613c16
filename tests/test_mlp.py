"""The MLP baseline (SPEC §3): learning, masking, vmap, determinism, the two protocols."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from clifer_jax import metrics, mlp

D = 8
REF = mlp.MLPConfig(feature_dim=D)  # SPEC §3 hyperparameters, small input
# Adam's ε raised from 1e-7: batched and single matmuls round differently, and
# with a tiny ε Adam rescales the ~0 gradients of directions batch norm makes
# invariant (biases before it) to steps of ~lr, so float32 rounding noise grows
# to ~1e-2 there and vmap-vs-loop comparisons could only be loose. With 1e-3 it
# stays at rounding level, so a masking error would show.
CFG = dataclasses.replace(REF, eps=1e-3, min_steps=0)  # exactly 20 epochs: fast, little drift
N = 768  # 6 classes x 128; one padded size shared by most tests (one compilation)


def blobs(seed, per_class=128, classes=6, spread=1.0):
    """Gaussian clusters with well-separated centres; labels in class-major order."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(0).normal(0, 3.0, (classes, D))
    y = np.repeat(np.arange(classes), per_class).astype(np.int32)
    x = (centres[y] + rng.normal(0, spread, (y.size, D))).astype(np.float32)
    return x, y


X, Y = blobs(1)
X_TEST, Y_TEST = blobs(2, per_class=32)
ALL = np.ones(N, bool)


def leaves_equal(a, b, atol=0.0):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(la) == len(lb) and all(np.allclose(u, v, atol=atol, rtol=0) for u, v in zip(la, lb))


@pytest.fixture(scope="module")
def trained():
    state = mlp.init(CFG, jax.random.key(0))
    return mlp.train(CFG, state, jax.random.key(1), X, Y, ALL)


def test_learns_separable_classes(trained):
    acc = metrics.accuracy(Y_TEST, np.asarray(mlp.predict(CFG, trained, X_TEST)))
    assert acc > 0.9
    untrained = mlp.predict(CFG, mlp.init(CFG, jax.random.key(0)), X_TEST)
    assert metrics.accuracy(Y_TEST, np.asarray(untrained)) < 0.5


def test_same_key_same_result_and_no_recompilation(trained):
    again = mlp.train(CFG, mlp.init(CFG, jax.random.key(0)), jax.random.key(1), X, Y, ALL)
    assert leaves_equal(trained, again)
    size = mlp._train_jit._cache_size()
    other = mlp.train(CFG, mlp.init(CFG, jax.random.key(0)), jax.random.key(2), X, Y, ALL)
    assert mlp._train_jit._cache_size() == size
    assert not leaves_equal(trained.params, other.params)
    assert not leaves_equal(mlp.init(CFG, jax.random.key(0)).params,
                            mlp.init(CFG, jax.random.key(3)).params)


def test_padding_is_ignored():
    n = 600  # not a multiple of the batch size: the last mini-batch is partial
    valid = np.arange(N) < n
    zeros = np.where(valid[:, None], X, 0.0).astype(np.float32)
    garbage = X.copy()
    garbage[n:] = 1e6 * np.random.default_rng(9).normal(size=(N - n, D))
    garbage[n + 5:n + 9] = np.nan
    y_garbage = Y.copy()
    y_garbage[n:] = -5  # invalid labels too
    state0 = mlp.init(CFG, jax.random.key(4))
    key = jax.random.key(5)
    a = mlp.train(CFG, state0, key, zeros, Y, valid)
    b = mlp.train(CFG, state0, key, garbage, y_garbage, valid)
    c = mlp.train(CFG, state0, key, X[:n], Y[:n], np.ones(n, bool))  # no padding at all
    assert leaves_equal(a, b)
    assert leaves_equal(a, c, atol=1e-5)
    np.testing.assert_array_equal(mlp.predict(CFG, a, X_TEST), mlp.predict(CFG, b, X_TEST))
    # and the padding really was large enough to matter had it leaked in
    d = mlp.train(CFG, state0, key, np.nan_to_num(garbage), y_garbage % 6, ALL)
    assert not leaves_equal(a.params, d.params, atol=1e-3)
    # nothing valid: nothing changes
    assert leaves_equal(mlp.train(CFG, state0, key, garbage, y_garbage, np.zeros(N, bool)), state0)


def test_batch_norm_statistics_use_valid_rows_only():
    x = X[:64].copy()
    valid = np.arange(64) < 40
    x[40:] = 0.0  # zero rows would pull an unmasked mean toward relu(bias) = 0
    state0 = mlp.init(CFG, jax.random.key(6))
    step = jax.jit(mlp._train_step, static_argnums=0)
    state = step(CFG, state0, x, Y[:64], valid.astype(np.float32))
    p = state0.params["Dense_0"]
    h = np.maximum(x[:40] @ np.asarray(p["kernel"]) + np.asarray(p["bias"]), 0.0)
    want = (1 - CFG.bn_momentum) * h.mean(0)  # running mean starts at 0, one update
    np.testing.assert_allclose(state.batch_stats["BatchNorm_0"]["mean"], want, rtol=1e-4, atol=1e-6)


def two_classes(seed, per_class, a=2, b=4, half=3.0):
    """Classes a and b as unit Gaussians 2·half apart along a fixed direction."""
    rng = np.random.default_rng(seed)
    d = np.random.default_rng(7).normal(size=D)
    d /= np.linalg.norm(d)
    y = np.repeat([a, b], per_class).astype(np.int32)
    x = np.where(y[:, None] == a, -half, half) * d + rng.normal(0, 1, (y.size, D))
    return x.astype(np.float32), y


def test_finetune_forgets_joint_remembers():
    x, y = two_classes(1, N // 2)
    x_test, y_test = two_classes(2, 32)
    order = np.array([2, 4], np.int32)
    key = jax.random.key(11)
    _, pf, _ = mlp.mlp_finetune(REF, key, x, y, ALL, x_test, order)
    _, pj, _ = mlp.mlp_joint(REF, key, x, y, ALL, x_test, order)
    assert pf.shape == pj.shape == (2, x_test.shape[0])
    rf = metrics.cl_matrix(y_test, np.asarray(pf), order)
    rj = metrics.cl_matrix(y_test, np.asarray(pj), order)
    assert rf[0, 0] > 0.9 and rj[0, 0] > 0.9          # class A learned at step 0
    assert rf[1, 1] > 0.9 and rj[1, 1] > 0.9          # class B learned at step 1
    assert rf[1, 0] < 0.3                             # fine-tuning on B forgets A
    assert rj[1, 0] > 0.9                             # joint retraining keeps A
    assert metrics.backward_transfer(rf) < -0.6 < metrics.backward_transfer(rj)


def test_vmap_over_subjects_equals_separate_runs():
    xs = np.stack([blobs(10 + s)[0] for s in range(4)])
    ys = np.stack([Y] * 4)
    rng = np.random.default_rng(13)
    # different numbers of valid samples, so different mini-batch counts per subject
    masks = np.stack([rng.random(N) < p for p in (1.0, 0.7, 0.4, 0.15)])
    states = jax.vmap(mlp.init, in_axes=(None, 0))(CFG, jax.random.split(jax.random.key(8), 4))
    keys = jax.random.split(jax.random.key(9), 4)
    batched = jax.vmap(mlp.train, in_axes=(None, 0, 0, 0, 0, 0))(CFG, states, keys, xs, ys, masks)
    for s in range(4):
        one = mlp.train(CFG, jax.tree.map(lambda a: a[s], states), keys[s], xs[s], ys[s], masks[s])
        assert leaves_equal(jax.tree.map(lambda a: a[s], batched), one, atol=1e-5)


@pytest.mark.parametrize("args, match", [
    ((X[:, :3], Y, ALL), "shape"),
    ((X, Y[:10], ALL), "shape"),
    ((X, Y.astype(np.float32), ALL), "integer"),
    ((X, np.where(ALL, 6, Y), ALL), r"\[0, 6\)"),
    ((np.where(ALL[:, None], np.nan, X), Y, ALL), "NaN"),
])
def test_validation(args, match):
    with pytest.raises(ValueError, match=match):
        mlp.train(CFG, mlp.init(CFG, jax.random.key(0)), jax.random.key(1), *args)


def test_config_and_protocol_validation():
    with pytest.raises(ValueError, match="batch_norm_layers"):
        mlp.MLPConfig(batch_norm_layers=4)
    with pytest.raises(ValueError, match="min_steps"):
        mlp.MLPConfig(min_steps=-1)
    with pytest.raises(ValueError, match="init_stds"):
        mlp.MLPConfig(init_stds=(0.0, 0.025))
    with pytest.raises(ValueError, match="init_stds"):
        mlp.MLPConfig(init_stds=(0.02, 0.025, 0.025, 0.025))   # (first, later), not per layer
    with pytest.raises(ValueError, match="order"):
        mlp.mlp_joint(CFG, jax.random.key(0), X, Y, ALL, X_TEST, np.array([1, 1]))
    with pytest.raises(ValueError, match="x must"):
        mlp.predict(CFG, mlp.init(CFG, jax.random.key(0)), jnp.zeros((3, D + 1)))
    # feature_dim comes from the data unless set: unset, nothing can be built
    assert mlp.MLPConfig().feature_dim is None
    with pytest.raises(ValueError, match="feature_dim is None"):
        mlp.init(mlp.MLPConfig(), jax.random.key(0))
    assert mlp.MLPConfig().for_data(D) == REF and REF.for_data(D) == REF
    with pytest.raises(ValueError, match="feature_dim is 8"):
        REF.for_data(D + 1)


# The reference's Keras classifier (nchuramani/CLIFER, Experiments_DualMemory.py, `classifier`):
# Dense 64 RandomNormal(stddev=0.02); Dense 32, Dense 16 and the output stddev=0.025.
REFERENCE_INIT_STDS = {"Dense_0": 0.02, "Dense_1": 0.025, "Dense_2": 0.025, "Dense_3": 0.025}


def test_reference_initialisation_and_batch_norm_without_scale():
    cfg = mlp.MLPConfig(feature_dim=50)
    assert cfg.layer_init_stds == tuple(REFERENCE_INIT_STDS.values())
    params = mlp.init(cfg, jax.random.key(0)).params
    for name in ("BatchNorm_0", "BatchNorm_1"):
        assert set(params[name]) == {"bias"}                     # a shift, no 'scale'
        np.testing.assert_array_equal(params[name]["bias"], 0.0)
    for name in REFERENCE_INIT_STDS:
        np.testing.assert_array_equal(params[name]["bias"], 0.0)    # biases zero
    # Glorot-uniform would be bounded by sqrt(6 / (fan_in + fan_out)) and far wider
    k0 = np.asarray(params["Dense_0"]["kernel"])
    assert np.abs(k0).max() < np.sqrt(6 / (50 + 64)) / 2
    assert cfg.bn_momentum == 0.9


def test_initial_standard_deviation_of_each_layer_is_the_references():
    # Large layers (512 wide: 262,144 draws per kernel, so the sample sd is within ~0.3% of
    # the true one) with the reference's rule: 0.02 in the first layer, 0.025 in every later.
    cfg = mlp.MLPConfig(feature_dim=512, hidden=(512, 512, 512), num_classes=512)
    params = mlp.init(cfg, jax.random.key(3)).params
    for name, std in REFERENCE_INIT_STDS.items():
        k = np.asarray(params[name]["kernel"]).ravel()
        assert k.size == 512 * 512
        assert abs(k.mean()) < 0.02 * std, name
        assert k.std() == pytest.approx(std, rel=0.015), name
    # and the reference-sized network draws its kernels from the same per-layer sds
    ref = mlp.MLPConfig(feature_dim=50)
    keys = jax.random.split(jax.random.key(1), 20)
    for name, std in REFERENCE_INIT_STDS.items():
        k = np.concatenate([np.asarray(mlp.init(ref, kk).params[name]["kernel"]).ravel() for kk in keys])
        assert k.std() == pytest.approx(std, rel=0.06), name
    # the two sds are a setting (first layer, every later one)
    other = mlp.MLPConfig(feature_dim=512, hidden=(512, 512), num_classes=512, init_stds=(0.05, 0.01))
    p = mlp.init(other, jax.random.key(4)).params
    assert [round(float(np.asarray(p[n]["kernel"]).std()), 3) for n in ("Dense_0", "Dense_1", "Dense_2")] == \
        [0.05, 0.01, 0.01]


def test_protocols_report_training_accuracy_per_step():
    x, y = blobs(3, per_class=24, spread=1.5)           # small class steps, as in the experiment
    mask = np.ones(x.shape[0], bool)
    mask[::7] = False                                   # some invalid rows, holding wrong labels
    y_bad = np.where(mask, y, (y + 1) % 6).astype(np.int32)
    order = np.array([5, 2, 3, 0, 4, 1], np.int32)
    key = jax.random.key(21)
    for fn in (mlp.mlp_joint, mlp.mlp_finetune):
        state, preds, acc = fn(REF, key, x, y_bad, mask, X_TEST, order)
        assert preds.shape == (6, X_TEST.shape[0]) and acc.shape == (6,) and acc.dtype == np.float32
        # train_acc is the accuracy on exactly the step's training samples (valid ones)
        last = np.asarray(mlp.predict(REF, state, x))
        sel = mask & ((y >= 0) if fn is mlp.mlp_joint else (y == order[-1]))
        assert acc[-1] == pytest.approx(np.mean(last[sel] == y[sel]))
        if fn is mlp.mlp_joint:                         # the retrained baseline fits every step
            assert np.all(np.asarray(acc) == 1.0), acc


def test_recalibrated_batch_norm_statistics_are_the_training_sets():
    x, y = X[:100], Y[:100]
    valid = np.arange(100) < 70
    state = mlp.train(CFG, mlp.init(CFG, jax.random.key(6)), jax.random.key(7), x, y, valid)
    p = state.params
    h = np.maximum(x[valid] @ np.asarray(p["Dense_0"]["kernel"]) + np.asarray(p["Dense_0"]["bias"]), 0.0)
    bn = state.batch_stats["BatchNorm_0"]
    np.testing.assert_allclose(bn["mean"], h.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn["var"], h.var(0), rtol=1e-3, atol=1e-5)
    # without recalibration the running averages of mini-batch statistics remain
    off = dataclasses.replace(CFG, bn_recalibrate=False)
    raw = mlp.train(off, mlp.init(off, jax.random.key(6)), jax.random.key(7), x, y, valid)
    assert leaves_equal(raw.params, state.params)
    assert not leaves_equal(raw.batch_stats, state.batch_stats, atol=1e-3)


def test_min_steps_sets_the_number_of_adam_steps():
    # one mini-batch of 40 valid samples: 20 epochs are 20 steps; min_steps=50 makes 50
    x, y = X[:64], Y[:64]
    valid = np.arange(64) < 40
    state0 = mlp.init(CFG, jax.random.key(0))
    for min_steps, want in ((0, 20), (50, 50)):
        c = dataclasses.replace(CFG, min_steps=min_steps)
        out = mlp.train(c, state0, jax.random.key(1), x, y, valid)
        assert int(out.opt_state[0].count) == want


def test_train_acc_is_nan_for_an_empty_step():
    x, y = blobs(3, per_class=24, spread=1.5)          # the shapes above: no new compilation
    order = np.array([5, 2, 3, 0, 4, 1], np.int32)
    mask = y != 4                                       # class 4 (step 5) has no valid sample
    _, _, acc = mlp.mlp_finetune(REF, jax.random.key(0), x, y, mask, X_TEST, order)
    acc = np.asarray(acc)
    assert np.all(np.isfinite(acc[[0, 1, 2, 3, 5]])) and np.isnan(acc[4])
