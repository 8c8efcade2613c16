"""CAAE networks: shapes for both presets, the exact fast strided layers, conditions."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from clifer_jax import config_tree
from clifer_jax.caae import config as C
from clifer_jax.caae import models as M
from clifer_jax.caae.layers import StridedConv, StridedConvTranspose


def _shapes(cfg: C.CAAEConfig, b: int = 3):
    v = jax.eval_shape(lambda k: M.init_variables(cfg, k), jax.random.key(0))
    x = jax.ShapeDtypeStruct((b, *cfg.image_shape), jnp.float32)
    z = jax.ShapeDtypeStruct((b, cfg.z_dim), jnp.float32)
    c = jax.ShapeDtypeStruct((b,), jnp.int32)
    zo = jax.eval_shape(lambda p, x: M.Encoder(cfg).apply({"params": p}, x), v["encoder"], x)
    xo = jax.eval_shape(lambda p, z, c: M.Generator(cfg).apply({"params": p}, z, c), v["generator"], z, c)
    dz = jax.eval_shape(lambda p, z: M.DiscriminatorZ(cfg).apply(p, z, train=False), v["dz"], z)
    di = jax.eval_shape(lambda p, x, c: M.DiscriminatorImage(cfg).apply(p, x, c, train=False), v["dimg"], x, c)
    return v, zo, xo, dz, di


@pytest.mark.parametrize("preset", ["cpu", "paper"])
def test_shapes_of_every_network(preset):
    cfg = C.preset(preset)
    v, zo, xo, dz, di = _shapes(cfg)
    assert zo.shape == (3, 50)
    assert xo.shape == (3, *cfg.image_shape)
    assert dz.shape == (3,)
    assert di.shape == (3,)
    if preset == "paper":
        assert cfg.image_shape == (96, 96, 3) and cfg.gen_start == 6
        assert v["generator"]["fc"]["kernel"].shape == (50 + 48, 6 * 6 * 512)
        assert v["encoder"]["conv3"]["kernel"].shape == (5, 5, 256, 512)
        assert v["encoder"]["fc"]["kernel"].shape == (6 * 6 * 512, 1024)
        assert v["generator"]["out"]["kernel"].shape == (5, 5, 32, 3)
        assert v["dimg"]["params"]["fc"]["kernel"].shape[-1] == 1024


@pytest.fixture(scope="module")
def cpu_variables():
    """The cpu preset's initial variables, made under one jit (one compilation instead of
    one per operation, eager) and shared by the tests that only read them."""
    return jax.jit(M.init_variables, static_argnums=0)(C.cpu(), jax.random.key(1))


def test_outputs_in_range_and_condition_matters(cpu_variables):
    cfg, v = C.cpu(), cpu_variables

    @jax.jit  # one compilation instead of one per operation (eager): the same numbers to check
    def outputs(v, x):
        z = M.Encoder(cfg).apply({"params": v["encoder"]}, x)
        g0 = M.Generator(cfg).apply({"params": v["generator"]}, z, jnp.array([0, 0]))
        g1 = M.Generator(cfg).apply({"params": v["generator"]}, z, jnp.array([1, 1]))
        return z, g0, g1

    z, g0, g1 = outputs(v, jax.random.uniform(jax.random.key(2), (2, *cfg.image_shape), minval=-1, maxval=1))
    assert float(jnp.max(jnp.abs(z))) <= 1.0
    assert float(jnp.max(jnp.abs(g0))) <= 1.0
    assert float(jnp.max(jnp.abs(g0 - g1))) > 0


def test_condition_vector_is_tiled_plus_minus_one():
    v = np.asarray(M.condition_vector(jnp.array([2, 5]), 6, 3))
    assert v.shape == (2, 18)
    expect = -np.ones((2, 6))
    expect[0, 2] = expect[1, 5] = 1
    np.testing.assert_array_equal(v, np.tile(expect, (1, 3)))


@pytest.mark.parametrize("size", [4, 8, 10])
def test_fast_strided_layers_equal_flax_layers(size):
    x = jax.random.normal(jax.random.key(0), (2, size, size, 3))
    pairs = [
        (StridedConv(5), nn.Conv(5, (5, 5), strides=(2, 2), padding="SAME")),
        (StridedConvTranspose(5), nn.ConvTranspose(5, (5, 5), strides=(2, 2), padding="SAME")),
    ]
    for fast, ref in pairs:
        p = ref.init(jax.random.key(1), x)
        p = jax.tree.map(lambda a: a + 0.1 * jax.random.normal(jax.random.key(2), a.shape), p)
        assert jax.tree.map(jnp.shape, fast.init(jax.random.key(1), x)) == jax.tree.map(jnp.shape, p)
        np.testing.assert_allclose(fast.apply(p, x), ref.apply(p, x), atol=1e-5)
        # gradients with respect to the input agree as well
        ga = jax.grad(lambda xx: jnp.sum(jnp.sin(fast.apply(p, xx))))(x)
        gb = jax.grad(lambda xx: jnp.sum(jnp.sin(ref.apply(p, xx))))(x)
        np.testing.assert_allclose(ga, gb, atol=1e-4)


def test_s2d_switch_keeps_the_function(cpu_variables):
    cfg, v = C.cpu(), cpu_variables
    slow = cfg.replace(s2d_convs=False)
    x = jax.random.uniform(jax.random.key(4), (2, *cfg.image_shape), minval=-1, maxval=1)
    c = jnp.array([1, 4])
    for mod, mod_slow, args in [
        (M.Encoder(cfg), M.Encoder(slow), (x,)),
        (M.Generator(cfg), M.Generator(slow), (jnp.zeros((2, 50)) + 0.3, c)),
    ]:
        name = "encoder" if isinstance(mod, M.Encoder) else "generator"
        # each form under one jit: one compilation instead of one per operation (eager)
        a = jax.jit(lambda p, *a, m=mod: m.apply({"params": p}, *a))(v[name], *args)
        b = jax.jit(lambda p, *a, m=mod_slow: m.apply({"params": p}, *a))(v[name], *args)
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_config_validation_and_presets():
    with pytest.raises(ValueError):
        C.cpu().replace(image_size=60)
    with pytest.raises(ValueError):
        C.cpu().replace(channels=2)
    with pytest.raises(ValueError):
        C.preset("huge")
    assert C.default_preset().name == ("cpu" if jax.default_backend() == "cpu" else "paper")
    hash(C.paper())  # static-arg friendly


def test_network_parameter_names():
    """The layers of every network (checkpoints and the networks' initial values rely on them)."""
    v = jax.eval_shape(lambda k: M.init_variables(C.tiny(), k), jax.random.key(0))
    n = len(C.tiny().enc_features)
    assert sorted(v["encoder"]) == sorted([f"conv{i}" for i in range(n)] + ["fc", "z"])
    assert sorted(v["generator"]) == sorted([f"deconv{i}" for i in range(n)] + ["fc", "out"])
    assert sorted(v["zhead"]) == ["logits"]
    assert sorted(v["dz"]["params"]) == ["bn0", "bn1", "bn2", "fc0", "fc1", "fc2", "logit"]
    assert sorted(v["dimg"]["params"]) == sorted([f"conv{i}" for i in range(n)] + [f"bn{i}" for i in range(n)]
                                                 + ["fc", "logit"])


def test_config_tree_sets_caae_fields_from_text():
    cfg = C.cpu()
    assert config_tree.set_path(cfg, "tv_weight", "0.5") == cfg.replace(tv_weight=0.5)
    assert config_tree.apply_sets(cfg, ["tv_translation=no", "gen_features=8,8,4,4", "epochs=3"]) == cfg.replace(
        tv_translation=False, gen_features=(8, 8, 4, 4), epochs=3)
    assert config_tree.set_path(cfg, "identity_net", "synthetic").identity_net == "synthetic"
    for bad in ("nonsense=1", "tv_weight=", "tv_translation=maybe", "epochs=two", "image_size=60",
                "identity_net=arcface", "gen_film=true", "cycle_weight=1"):   # the last two: removed options
        with pytest.raises(ValueError, match=bad.split("=")[0]):
            config_tree.apply_sets(cfg, [bad])


def test_removed_fields_of_a_stored_config():
    stored = {"tv_weight": 0.02, **{k: v for k, v in C.REMOVED_FIELDS.items() if k != "identity_translation"},
              "identity_translation": False}
    assert C.without_removed_fields(stored) == {"tv_weight": 0.02}
    assert C.without_removed_fields({"tv_weight": 0.02}) == {"tv_weight": 0.02}
    for name, value in (("gen_film", True), ("gen_res_blocks", 2), ("expr_dims", 10), ("cycle_weight", 1.0),
                        ("augment_flip", True), ("augment_tone", 0.15), ("aux_class_weight", 0.1),
                        ("d_steps", 2), ("d_lr_scale", 0.5)):
        with pytest.raises(ValueError, match=f"{name}={value!r}, an option that no longer exists"):
            C.without_removed_fields({**stored, name: value})
    # identity_translation is now the identity network's: synthetic compares translations, VGG-Face not
    ident = {"identity_weight": 1.0}
    for net, translation in (("synthetic", True), ("vgg-face", False)):
        C.without_removed_fields({**ident, "identity_net": net, "identity_translation": translation})
        with pytest.raises(ValueError, match="identity_translation"):
            C.without_removed_fields({**ident, "identity_net": net, "identity_translation": not translation})
        # without the identity loss the switch did nothing
        C.without_removed_fields({"identity_weight": 0.0, "identity_net": net, "identity_translation": not translation})
