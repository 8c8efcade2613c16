"""The GDM's public functions check a state against its config, stay traceable under
jit/vmap, refuse empty inputs and non-finite hyperparameters, report a non-finite state,
accept numpy integers, and warn about a full memory only at a limit the user can raise."""

import warnings

import jax
import numpy as np
import pytest

from clifer_jax import gdm, gwr

from test_gdm import class_steps, small_config


def _state(cfg, params=None):
    x, y, m = class_steps(0)[0]
    return gdm.init(cfg, x, y, m, params)


def test_a_state_of_another_config_is_refused_naming_the_field():
    cfg, params = small_config()
    state = _state(cfg, params)
    x, y, m = class_steps(0)[1]
    smaller, _ = small_config(capacity=20)
    with pytest.raises(ValueError, match=r"episodic\.weights .*capacity"):
        gdm.learn_class(smaller, state, x, y, m, params)
    four = cfg.replace(num_classes=4)
    with pytest.raises(ValueError, match=r"label_hist .*classes"):
        gdm.predict(four, state, x, params)
    with pytest.raises(ValueError, match="episodic.weights"):
        gdm.learn_extra(smaller, state, x, y, m, params=params)


def test_public_functions_trace_under_jit_and_vmap():
    cfg, params = small_config()
    x, y, m = class_steps(0)[0]
    a = jax.jit(lambda x, y, m: gdm.init(cfg, x, y, m, params))(x, y, m)
    b = gdm.init(cfg, x, y, m, params)
    np.testing.assert_allclose(np.asarray(a.episodic.weights), np.asarray(b.episodic.weights))
    xs, ys, ms = (np.stack([v, v]) for v in class_steps(1)[1])
    states = jax.tree.map(lambda v: np.stack([v, v]), b)
    out = jax.vmap(lambda s, x, y, m: gdm.learn_class(cfg, s, x, y, m, params))(states, xs, ys, ms)
    assert out.episodic.weights.shape[0] == 2


def test_empty_inputs_are_a_clear_error():
    cfg, _ = small_config()
    empty = np.zeros((0, 6), np.float32), np.zeros(0, np.int32), np.zeros(0, bool)
    with pytest.raises(ValueError, match="no samples"):
        gdm.init(cfg, *empty)
    with pytest.raises(ValueError, match="no samples"):
        gdm.learn_extra(cfg, _state(cfg), *empty)


def test_non_finite_hyperparameters_refused_and_a_non_finite_state_warned():
    cfg, params = small_config()
    x, y, m = class_steps(0)[0]
    bad = params.replace(episodic=params.episodic.replace(kappa=float("inf")))
    with pytest.raises(ValueError, match="params.episodic.kappa must be a finite number"):  # refused at the call
        gdm.init(cfg, x, y, m, bad)
    state = gdm.init(cfg, x, y, m, params)
    with pytest.raises(ValueError, match="kappa must be a finite number"):
        gdm.learn_class(cfg, state, x, y, m, bad)
    with pytest.raises(ValueError, match=r"params\.semantic\.eps_b must be a finite number"):
        gdm.predict(cfg, state, x, params.replace(semantic=gwr.GWRParams(eps_b=float("nan"))))
    big = np.float32(1e20)                            # finite, but squares overflow float32
    with pytest.raises(ValueError, match=r"too large for float32 distances: \|x\| up to .*e\+20"):
        gdm.init(cfg, x * big, y, m, params)
    x1, y1, m1 = class_steps(0)[1]
    with pytest.raises(ValueError, match="too large for float32 distances"):
        gdm.learn_class(cfg, state, x1 * big, y1, m1, params)
    # a state gone non-finite (here by hand) is reported after the call
    broken = state.replace(episodic=state.episodic.replace(weights=state.episodic.weights.at[0].set(np.nan)))
    with pytest.warns(RuntimeWarning, match="memory holds .* NaN/inf weights"):  # both memories
        gdm.learn_class(cfg, broken, x1, y1, m1, params)


def test_numpy_integers_are_accepted():
    cfg = gdm.GDMConfig(dim=np.int64(6), capacity=np.int64(40), num_classes=np.int64(3),
                        epochs=np.int64(2))
    assert cfg.dim == 6 and cfg.epochs == 2
    state = _state(cfg)
    x, y, m = class_steps(0)[1]
    gdm.learn_extra(cfg, state, x, y, m, epochs=np.int64(1))


def test_memory_full_warning_only_at_a_limit_the_user_can_raise():
    x0, y0, m0 = class_steps(0)[0]
    roomy = gdm.GDMConfig(dim=6, capacity=512, num_classes=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")        # the README's example: no warning
        state = gdm.init(roomy, x0, y0, m0)
        for x, y, m in class_steps(0)[1:]:
            state = gdm.learn_class(roomy, state, x, y, m, replay=True)
    tight, params = small_config(capacity=8)
    state = gdm.init(tight, x0, y0, m0, params)
    with pytest.warns(RuntimeWarning, match=r"refused at its capacity of 8 nodes; raise GDMConfig\.capacity"):
        for x, y, m in class_steps(0, per_class=14)[1:]:
            state = gdm.learn_class(tight, state, x, y, m, params)
