"""CAAE training: determinism, exact resume from orbax checkpoints, no recompilation,
validation of the training inputs."""

import jax
import numpy as np
import pytest

from clifer_jax.caae import config as C
from clifer_jax.caae import train as T

TINY = C.cpu().replace(
    name="tiny", image_size=32, enc_features=(4, 8, 8, 8), enc_dense=16, gen_features=(8, 8, 4, 4),
    gen_dense_features=8, dz_features=(8, 8, 4), dimg_features=(4, 4, 8, 8), dimg_dense=16,
    dimg_cond_tile=1, batch_size=8, epochs=3, adv_img_weight=0.01,   # with D_img (off in cpu())
)


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 1), dtype=np.uint8), rng.integers(0, 6, n).astype(np.int32)


# The total steps of a TINY run on `_data()` (40 faces, 8 a batch, 3 epochs): the states
# made here by hand take the same learning-rate schedule, so their training step is the
# very program the runs compile (loaded from the session's compilation cache).
TOTAL = 15


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def test_same_seed_same_params_and_metrics():
    x, y = _data()
    s1, h1 = T.train(TINY, x, y, seed=3, progress=False)
    s2, h2 = T.train(TINY, x, y, seed=3, progress=False)
    for a, b in zip(_leaves((s1.ae_params, s1.d_params)), _leaves((s2.ae_params, s2.d_params)), strict=True):
        np.testing.assert_array_equal(a, b)
    assert h1 == h2 and len(h1) == 3 and int(s1.step) == 15
    s3, _ = T.train(TINY, x, y, seed=4, progress=False)
    assert not np.array_equal(_leaves(s3.ae_params)[0], _leaves(s1.ae_params)[0])


def test_resume_gives_the_uninterrupted_numbers(tmp_path):
    x, y = _data()
    full, hist_full = T.train(TINY, x, y, seed=1, progress=False)
    ckpt = str(tmp_path / "ckpt")
    part, hist_part = T.train(TINY, x, y, seed=1, ckpt_dir=ckpt, stop_after_epochs=1, progress=False)
    assert int(part.step) == 5 and len(hist_part) == 1
    resumed, hist_res = T.train(TINY, x, y, seed=1, ckpt_dir=ckpt, progress=False)
    assert int(resumed.step) == 15
    for a, b in zip(_leaves(full), _leaves(resumed), strict=True):
        np.testing.assert_array_equal(a, b)
    assert hist_res == hist_full
    params, meta = T.restore_params(TINY, ckpt)
    assert meta["done"] and len(meta["history"]) == 3
    np.testing.assert_array_equal(_leaves(params.encoder)[0], _leaves(full.ae_params["encoder"])[0])
    # a finished checkpoint is not trained further
    again, _ = T.train(TINY, x, y, seed=1, ckpt_dir=ckpt, progress=False)
    np.testing.assert_array_equal(_leaves(again.ae_params)[0], _leaves(full.ae_params)[0])


def test_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        T.restore_params(TINY, str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError):
        T.restore_params(TINY, str(tmp_path / "empty"))
    x, y = _data()
    ckpt = str(tmp_path / "c")
    T.train(TINY, x, y, seed=0, ckpt_dir=ckpt, stop_after_epochs=1, progress=False)
    with pytest.raises(ValueError, match="seed"):
        T.train(TINY, x, y, seed=9, ckpt_dir=ckpt, progress=False)
    # other images of the same count (e.g. a changed synthetic pool) are refused too
    x2, y2 = _data(seed=1)
    with pytest.raises(ValueError, match="data_sha256"):
        T.train(TINY, x2, y, seed=0, ckpt_dir=ckpt, progress=False)
    with pytest.raises(ValueError, match="data_sha256"):
        T.train(TINY, x, y2, seed=0, ckpt_dir=ckpt, progress=False)
    assert T.data_fingerprint(TINY, x, y) == T.data_fingerprint(TINY, x.copy(), y.copy())
    with pytest.raises(ValueError, match="config"):
        T.restore_params(TINY.replace(enc_dense=8), ckpt)


def test_train_step_compiles_once():
    x, y = _data(16)
    state = T.CAAEState.create(TINY, jax.random.key(0), TOTAL)
    state, _ = T.train_step(TINY, state, x[:8], y[:8], jax.random.key(1))
    before = T.train_step._cache_size()
    state, m = T.train_step(TINY, state, x[8:], y[8:], jax.random.key(2))
    assert T.train_step._cache_size() == before
    assert all(np.isfinite(float(v)) for v in m.values())
    assert int(state.step) == 2


def test_training_input_validation():
    x, y = _data()
    with pytest.raises(ValueError, match="labels"):
        T.train(TINY, x, y[:-1], progress=False)
    with pytest.raises(ValueError, match="labels"):
        T.train(TINY, x, np.full_like(y, 6), progress=False)
    with pytest.raises(ValueError, match="expects 32"):
        T.train(TINY, np.zeros((40, 16, 16, 1), np.uint8), y, progress=False)
    with pytest.raises(ValueError, match="fewer than one batch"):
        T.train(TINY, x[:4], y[:4], progress=False)
    bad = x.astype(np.float32) / 255.0
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        T.train(TINY, bad, y, progress=False)
    with pytest.raises(ValueError, match="VGG"):
        T.train(TINY.replace(identity_weight=0.5), x, y, progress=False)



def _step_terms(cfg, seed=0, with_ref=True):
    """One train_step from a fresh state, and (with_ref) its own recomputation of the TV of
    the reconstructions and of the translations from the initial parameters, under one jit
    (one compilation, not one per operation)."""
    from clifer_jax.caae import api, losses

    x, y = _data(8, seed)
    state = T.CAAEState.create(cfg, jax.random.key(seed), TOTAL)
    key = jax.random.key(7)
    ref = None
    if with_ref:
        @jax.jit
        def terms(p, x, y):
            c_other = T._other_condition(jax.random.split(key)[0], y, cfg.num_classes)
            xm = x.astype(np.float32) / 127.5 - 1.0
            z = api.encode_unchecked(p, xm)
            recon, trans = api.generate_unchecked(p, z, y), api.generate_unchecked(p, z, c_other)
            return {"tv_recon": losses.total_variation(recon), "tv_trans": losses.total_variation(trans)}

        ref = {k: float(v) for k, v in terms(state.inference_params(cfg), x, y).items()}
    old_d = _leaves(state.d_params)  # copied: the step donates the state
    new, m = T.train_step(cfg, state, x, y, key)
    return old_d, new, m, ref


def test_translation_tv_term_and_its_off_path():
    off = TINY.replace(tv_translation=False, tv_weight=100.0)   # a weight that lifts the term above the loss's rounding
    _, new_off, m_off, ref = _step_terms(off)
    np.testing.assert_allclose(float(m_off["tv"]), ref["tv_recon"], rtol=1e-4)
    on = off.replace(tv_translation=True)
    _, new_on, m_on, _ = _step_terms(on, with_ref=False)
    np.testing.assert_allclose(float(m_on["tv"]), (ref["tv_recon"] + ref["tv_trans"]) / 2, rtol=1e-4)
    extra = on.tv_weight * (float(m_on["tv"]) - float(m_off["tv"]))
    assert extra > 1e-3
    np.testing.assert_allclose(float(m_on["loss"]) - float(m_off["loss"]), extra, rtol=1e-3)
    # the term changes the E/G update, not the discriminators' (updated first, on the same fakes)
    enc_off, enc_on = _leaves(new_off.ae_params["encoder"]), _leaves(new_on.ae_params["encoder"])
    assert any(not np.array_equal(a, b) for a, b in zip(enc_off, enc_on, strict=True))
    for a, b in zip(_leaves(new_off.d_params), _leaves(new_on.d_params), strict=True):
        np.testing.assert_array_equal(a, b)


def test_image_discriminator_skipped_when_no_term_reads_it():
    cfg = TINY.replace(adv_img_weight=0.0)
    assert not cfg.uses_image_discriminator and TINY.uses_image_discriminator
    old, new, m, _ = _step_terms(cfg, with_ref=False)
    n_img = len(_leaves(new.d_params["dimg"]))   # d_params = {"dimg", "dz"}: D_img's leaves first
    for a, b in zip(old[:n_img], _leaves(new.d_params["dimg"]), strict=True):   # D_img left as initialised
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(old[n_img:], _leaves(new.d_params["dz"]), strict=True))
    assert float(m["d_img"]) == 0.0 and float(m["adv_img"]) == 0.0 and float(m["d_z"]) > 0


def _legacy_state(state):
    """`state` as checkpoints made up to commit 8615700 hold it: D_img with an (unused)
    auxiliary class head 'aux', in its parameters and in the discriminators' Adam state."""
    def add(tree):
        if isinstance(tree, dict):
            tree = {k: add(v) for k, v in tree.items()}
            if "logit" in tree and "conv0" in tree:
                tree["aux"] = {"bias": np.full((6,), 0.5, np.float32), "kernel": np.ones((16, 6), np.float32)}
            return tree
        if isinstance(tree, tuple) and hasattr(tree, "_fields"):
            return type(tree)(*(add(v) for v in tree))
        if isinstance(tree, (tuple, list)):
            return type(tree)(add(v) for v in tree)
        return tree

    return state.replace(d_params=add(state.d_params), d_opt_state=add(state.d_opt_state))


def _write_legacy_checkpoint(ckpt, state, meta):
    import orbax.checkpoint as ocp

    mngr = T._manager(ckpt, 2)
    mngr.save(int(state.step), args=ocp.args.Composite(state=ocp.args.StandardSave(_legacy_state(state)),
                                                       meta=ocp.args.JsonSave(meta)))
    mngr.wait_until_finished()
    mngr.close()


# the options removed after commit 8615700, as its checkpoints stored them when off
OLD_OFF = {"gen_film": False, "gen_res_blocks": 0, "expr_dims": 0, "cycle_weight": 0.0, "augment_flip": False,
           "augment_tone": 0.0, "aux_class_weight": 0.0, "d_steps": 1, "d_lr_scale": 1.0,
           "identity_translation": False}


def test_checkpoints_from_before_the_options_were_removed(tmp_path):
    x, y = _data()
    full, hist_full = T.train(TINY, x, y, seed=1, progress=False)
    part, hist_part = T.train(TINY, x, y, seed=1, stop_after_epochs=1, progress=False)
    meta = {"config": {**T._config_dict(TINY), **OLD_OFF}, "seed": 1, "n_images": len(x),
            "data_sha256": T.data_fingerprint(TINY, x, y), "history": hist_part, "done": False}
    ckpt = str(tmp_path / "old")
    _write_legacy_checkpoint(ckpt, part, meta)
    # restored (without D_img's old head), and resumed to the uninterrupted run's numbers
    params, back = T.restore_params(TINY, ckpt)
    np.testing.assert_array_equal(_leaves(params.generator)[0], _leaves(part.ae_params["generator"])[0])
    assert back["config"]["cycle_weight"] == 0.0
    resumed, hist = T.train(TINY, x, y, seed=1, ckpt_dir=ckpt, progress=False)
    assert hist == hist_full and "aux" not in resumed.d_params["dimg"]
    for a, b in zip(_leaves(full), _leaves(resumed), strict=True):
        np.testing.assert_array_equal(a, b)
    # a CAAE that used a removed option is refused, by name
    for name, value in (("cycle_weight", 1.0), ("gen_res_blocks", 2), ("d_steps", 2)):
        bad = str(tmp_path / name)
        _write_legacy_checkpoint(bad, part, {**meta, "config": {**meta["config"], name: value}})
        with pytest.raises(ValueError, match=f"{name}={value}, an option that no longer exists"):
            T.restore_params(TINY, bad)
        with pytest.raises(ValueError, match=f"{name}={value}, an option that no longer exists"):
            T.train(TINY, x, y, seed=1, ckpt_dir=bad, progress=False)
