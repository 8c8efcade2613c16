"""CAAE networks: shapes for both presets, the exact fast strided layers, conditions."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

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
    assert di[0].shape == (3,) and di[1].shape == (3, 6)
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


def test_parse_field_types_command_line_values_like_the_field():
    cfg = C.cpu()
    assert cfg.parse_field("gen_res_blocks=2") == ("gen_res_blocks", 2)
    assert cfg.parse_field("gen_film=True") == ("gen_film", True)
    assert cfg.parse_field("augment_flip=no") == ("augment_flip", False)
    assert cfg.parse_field("tv_weight=0.5") == ("tv_weight", 0.5)
    assert cfg.parse_field("gen_features=8,8,4,4") == ("gen_features", (8, 8, 4, 4))
    for bad in ("nonsense=1", "tv_weight=", "gen_film=maybe", "epochs=two", "gen_res_blocks=9",
                "image_size=60"):
        with pytest.raises(ValueError, match=bad.split("=")[0]):
            cfg.parse_field(bad)


def _starts_as_plain_generator(cfg, ext_cfg, prefix: str, seed: int):
    """G of `ext_cfg` at init, its layers named `prefix…` dropped, is G of `cfg` with the same
    weights (checked); returns its params, its jitted apply and a batch (z, c)."""
    # each network run under one jit: one compilation instead of one per operation (eager)
    v = jax.jit(lambda k: M.init_variables(ext_cfg, k)["generator"])(jax.random.key(seed))
    plain = {k: p for k, p in v.items() if not k.startswith(prefix)}
    z = jax.random.uniform(jax.random.key(seed + 1), (3, cfg.z_dim), minval=-1, maxval=1)
    c = jnp.array([0, 2, 5])
    ext_g = jax.jit(lambda p, z, c: M.Generator(ext_cfg).apply({"params": p}, z, c))
    plain_g = jax.jit(lambda p, z, c: M.Generator(cfg).apply({"params": p}, z, c))
    np.testing.assert_allclose(ext_g(v, z, c), plain_g(plain, z, c), atol=1e-6)
    return v, ext_g, z, c


def test_film_generator_starts_as_the_plain_one_and_conditions_every_scale():
    cfg = C.tiny()
    # zero-initialised γ, β: at init the FiLM generator is the plain one with the same weights
    v, film_g, z, c = _starts_as_plain_generator(cfg, cfg.replace(gen_film=True), "film", 3)
    assert sorted(k for k in v if k.startswith("film")) == ["film0", "film1", "film2", "film3", "film_fc"]
    assert v["film0"]["kernel"].shape == (6, 2 * cfg.gen_features[0])
    # a non-zero γ, β changes the output, and only through the class
    v2 = dict(v)
    v2["film1"] = {"kernel": jnp.ones_like(v["film1"]["kernel"]), "bias": v["film1"]["bias"]}
    assert float(jnp.max(jnp.abs(film_g(v2, z, c) - film_g(v, z, c)))) > 1e-4


def test_residual_generator_starts_as_the_plain_one_and_its_blocks_read_the_class():
    cfg = C.tiny()
    # the zero-initialised last conv: at init every block is the identity
    v, res_g, z, c = _starts_as_plain_generator(cfg, cfg.replace(gen_res_blocks=3), "res", 7)
    # coarsest first: the dense map, then the first two transposed convs' outputs
    assert sorted(k for k in v if k.startswith("res")) == ["res0", "res1", "res_fc"]
    assert v["res1"]["conv0"]["kernel"].shape == (3, 3, cfg.gen_features[1], cfg.gen_features[1])
    # once its last conv is non-zero a block changes G
    blk = v["res_fc"]
    v2 = {**v, "res_fc": {**blk, "conv1": {"kernel": jnp.full_like(blk["conv1"]["kernel"], 0.05),
                                           "bias": blk["conv1"]["bias"]}}}
    assert float(jnp.max(jnp.abs(res_g(v2, z, c) - res_g(v, z, c)))) > 1e-4
    # its FiLM reads the class: γ, β non-zero for class 5 only move the class-5 row
    film0 = jnp.zeros_like(blk["film0"]["kernel"]).at[5].set(1.0)
    v3 = {**v2, "res_fc": {**v2["res_fc"], "film0": {"kernel": film0, "bias": blk["film0"]["bias"]}}}
    moved = jnp.max(jnp.abs(res_g(v3, z, c) - res_g(v2, z, c)), axis=(1, 2, 3))
    assert float(moved[2]) > 1e-4 and float(jnp.max(moved[:2])) < 1e-6   # c = [0, 2, 5]
    for bad in (-1, len(cfg.gen_features) + 2, True):
        with pytest.raises(ValueError, match="gen_res_blocks"):
            cfg.replace(gen_res_blocks=bad)


def test_latent_split_hides_the_expression_code_from_g_and_shows_only_it_to_the_head():
    cfg = C.tiny().replace(expr_dims=4)
    v = jax.jit(lambda k: M.init_variables(cfg, k))(jax.random.key(5))
    assert v["generator"]["fc"]["kernel"].shape[0] == cfg.z_dim - 4 + cfg.cond_dim
    assert v["zhead"]["logits"]["kernel"].shape == (4, cfg.num_classes)
    z = jax.random.uniform(jax.random.key(6), (3, cfg.z_dim), minval=-1, maxval=1)
    z_code = z.at[:, :4].set(-z[:, :4])        # another expression code, the rest the same
    z_rest = z.at[:, 4:].set(0.5)              # the same code, the rest changed
    c = jnp.array([1, 3, 4])
    g = jax.jit(lambda z: M.Generator(cfg).apply({"params": v["generator"]}, z, c))
    head = jax.jit(lambda z: M.LatentHead(cfg).apply({"params": v["zhead"]}, z))
    np.testing.assert_array_equal(g(z), g(z_code))
    assert float(jnp.max(jnp.abs(g(z) - g(z_rest)))) > 1e-4
    np.testing.assert_array_equal(head(z), head(z_rest))
    assert float(jnp.max(jnp.abs(head(z) - head(z_code)))) > 1e-4
    for bad in (-1, cfg.z_dim, True):
        with pytest.raises(ValueError, match="expr_dims"):
            cfg.replace(expr_dims=bad)
