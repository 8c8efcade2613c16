"""Imagination modes (docs/caae.md, "Imagination modes"): the oracle draws the renderer's
true face of the sample's subject with each expression; "none" trains the memories on
no imagined sample; "oracle" is refused on real data."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from clifer_jax import clifer, gdm, gwr, imagination, study
from clifer_jax.classes import INDEX
from clifer_jax.data import loading, synthetic
from clifer_jax.study.config import StudyConfig

pytestmark = pytest.mark.filterwarnings("ignore:.*memory full")

_W = np.random.default_rng(0).normal(0, 1, (16 * 16, 5)).astype(np.float32)


def _encode(images):
    """A fixed, deterministic stand-in for the run's feature map (E then the transform)."""
    x = np.asarray(images, np.float32)[..., 0] / 255.0
    return x[:, ::2, ::2].reshape(len(x), -1) @ _W


def _arrays(cfg):
    return loading.to_subject_arrays(synthetic.generate(cfg), split="train")


def test_oracle_redraws_an_easy_apex_frame_exactly_for_its_own_class():
    """"easy" frames are level × prototype of their class; with one training clip per class,
    the subject's level for a class is that clip's apex, so the oracle for target = the
    sample's own class redraws the apex frame exactly (and its feature is the frame's)."""
    cfg = synthetic.SyntheticConfig(image_size=32, n_subjects=2, clips_per_class=2, frames_per_clip=3,
                                    preset="easy", seed=1)
    tr = _arrays(cfg)
    imgs = imagination.oracle_images(cfg, tr.subjects, tr.y, tr.clip, tr.frame, tr.mask)
    assert imgs.shape == tr.x.shape[:3] + (6, 32, 32, 1)
    table = imagination.oracle_table(cfg, tr.subjects, tr.y, tr.clip, tr.frame, tr.mask, _encode)
    apex = tr.frame == cfg.frames_per_clip - 1            # the easy ramp peaks at its last frame
    for ci, c in enumerate(tr.classes):
        if c == INDEX["Neutral"]:
            continue
        m = tr.mask[:, ci] & apex[:, ci]
        assert m.any()
        np.testing.assert_array_equal(imgs[:, ci][m][:, c], tr.x[:, ci][m])
        np.testing.assert_allclose(table[:, ci][m][:, c], _encode(tr.x[:, ci][m]), rtol=1e-5, atol=1e-5)
    # an onset frame (half the apex) is imagined at the apex, not at its own intensity
    ci = tr.classes.index(INDEX["Happiness"])
    onset = tr.mask[:, ci] & (tr.frame[:, ci] == 0)
    assert np.abs(imgs[:, ci][onset][:, INDEX["Happiness"]].astype(int) - tr.x[:, ci][onset].astype(int)).mean() > 0.5
    # other targets differ from the source frame (the expression changed)
    assert np.abs(imgs[:, ci, 0, INDEX["Surprise"]].astype(int) - tr.x[:, ci, 0].astype(int)).mean() > 1.0


def test_oracle_is_the_true_render_of_a_posed_sample_with_known_parameters():
    """A posed Sadness frame imagined as Happiness: subject s, Happiness's prototype at s's
    own Happiness intensity (the mean peak of its training clips), the frame's own pose,
    light, speech and noise."""
    cfg = synthetic.SyntheticConfig(image_size=32, n_subjects=3, clips_per_class=3, frames_per_clip=3, seed=2)
    tr = _arrays(cfg)
    pl = synthetic.plan(cfg)
    s, ci, l = 2, tr.classes.index(INDEX["Sadness"]), 4
    k, f = int(tr.clip[s, ci, l]), int(tr.frame[s, ci, l])
    sid, cls = tr.subjects[s], INDEX["Sadness"]
    train_clips = cfg.clips_per_class - cfg.test_clips_per_class
    level = np.mean([pl["intensity"][sid, INDEX["Happiness"], j].max() for j in range(train_clips)])
    nui = pl["nuisance"]
    one = type(nui)(**{n: None if getattr(nui, n) is None else np.asarray(getattr(nui, n))[sid, cls, k, f]
                       for n in nui.__dataclass_fields__})
    want = synthetic.render(pl["identity"].take((sid, 0, 0, 0)),
                            level * synthetic.prototype_aus(INDEX["Happiness"]), one, 32)
    table = imagination.oracle_table(cfg, tr.subjects, tr.y, tr.clip, tr.frame, tr.mask, _encode)
    np.testing.assert_allclose(table[s, ci, l, INDEX["Happiness"]], _encode(want[None])[0], rtol=1e-5, atol=1e-5)
    assert np.all(table[~tr.mask] == 0)


def test_oracle_levels_are_the_mean_peak_of_the_training_clips():
    intensity = np.zeros((1, 2, 3, 2), np.float32)
    intensity[0, 0, :, :] = [[0.2, 0.6], [0.9, 0.4], [1.0, 1.0]]   # clip 2 is held out
    np.testing.assert_allclose(imagination.oracle_levels(intensity, 2), [[0.75, 0.0]])
    with pytest.raises(ValueError, match="train_clips"):
        imagination.oracle_levels(intensity, 0)


def _gdm_state(seed=0, L=6, D=4):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (L, D)).astype(np.float32)
    y = np.full(L, INDEX["Anger"], np.int32)
    mask = np.ones(L, bool)
    mask[-1] = False
    cfg = gdm.GDMConfig(dim=D, capacity=32, semantic_capacity=16, epochs=2)
    state = gdm.learn_class(cfg, gdm.init(cfg, x, y, mask), x, y, mask)
    return cfg, state, x, mask


PARAMS = gdm.GDMParams().cast()


def _poison(p, v, c):
    raise AssertionError("imagine must not be called")


def test_none_sets_hold_only_the_bmus_and_the_episodic_nodes():
    cfg, state, x, mask = _gdm_state()
    samples, labels, valid = map(np.asarray, clifer.imagination_set_unchecked(
        cfg, PARAMS, state, x, mask, _poison, None, clifer.CLIFERConfig(imagination="none")))
    bmu = jax.jit(gwr.predict_unchecked, static_argnums=0)(cfg.episodic, PARAMS.episodic, state.episodic, x)
    n_nodes = state.episodic.weights.shape[0]
    assert samples.shape[0] == len(x) + n_nodes
    np.testing.assert_allclose(samples[: len(x)], np.asarray(bmu.weights[:, 0]), atol=1e-6)
    np.testing.assert_array_equal(labels[: len(x)], np.asarray(bmu.labels[:, 0]))
    np.testing.assert_array_equal(valid[: len(x)], mask)
    # nothing but the step's own class and the nodes' labels is trained on
    assert set(labels[valid].tolist()) <= {INDEX["Anger"]}


def test_oracle_sets_read_the_table_in_the_imagined_class_order():
    cfg, state, x, mask = _gdm_state()
    table = jnp.asarray(np.arange(len(x))[:, None, None] * 10.0 + np.arange(6)[None, :, None]
                        + np.zeros((1, 1, x.shape[1])), jnp.float32)
    samples, labels, _ = map(np.asarray, clifer.imagination_set_unchecked(
        cfg, PARAMS, state, x, mask, _poison, None, clifer.CLIFERConfig(imagination="oracle"), table))
    block = samples[: len(x) * 7].reshape(len(x), 7, -1)
    block_labels = labels[: len(x) * 7].reshape(len(x), 7)
    for l in range(len(x)):
        for j in range(1, 7):
            assert block[l, j, 0] == 10.0 * l + block_labels[l, j]
    with pytest.raises(ValueError, match="table"):
        clifer.imagination_set_unchecked(cfg, PARAMS, state, x, mask, None, None,
                                         clifer.CLIFERConfig(imagination="oracle"))


def test_none_run_ignores_the_imagination_and_differs_from_caae():
    rng = np.random.default_rng(3)
    C, L, Lt, D = 6, 4, 3, 4
    data = study.SubjectData(
        x=jnp.asarray(rng.normal(0, 1, (1, C, L, D)) + np.arange(C)[None, :, None, None], jnp.float32),
        y=jnp.broadcast_to(jnp.arange(C)[None, :, None], (1, C, L)).astype(jnp.int32),
        mask=jnp.ones((1, C, L), bool),
        x_test=jnp.asarray(rng.normal(0, 1, (1, C, Lt, D)) + np.arange(C)[None, :, None, None], jnp.float32),
        y_test=jnp.broadcast_to(jnp.arange(C)[None, :, None], (1, C, Lt)).astype(jnp.int32),
        mask_test=jnp.ones((1, C, Lt), bool))
    gcfg = gdm.GDMConfig(dim=D, capacity=48, semantic_capacity=24, epochs=1)
    nan_imagine = lambda p, v, c: jnp.full_like(v, jnp.nan)          # noqa: E731
    order = jnp.arange(C)
    key = __import__("jax").random.key(0)
    none = study.make_run("clifer", gcfg, imagine_fn=nan_imagine,
                          clifer_config=clifer.CLIFERConfig(imagination="none"))
    plain = study.make_run("clifer", gcfg, clifer_config=clifer.CLIFERConfig(imagination="none"))
    a = study.run_subjects(none, key, data, order)
    b = study.run_subjects(plain, key, data, order)
    # the registered ablation `clifer_none` is CLIFER with imagination "none", whatever the config says
    registered = study.run_subjects(study.make_run("clifer_none", gcfg, imagine_fn=nan_imagine), key, data, order)
    for m in ("episodic", "semantic"):
        np.testing.assert_array_equal(a[m], b[m])
        np.testing.assert_array_equal(a[m], registered[m])
    # with a real imagination (every imagined sample = the class's mean shift) the memories change
    caae = study.make_run("clifer", gcfg, imagine_fn=lambda p, v, c: v * 0 + c[:, None].astype(v.dtype))
    c_ = study.run_subjects(caae, key, data, order)
    assert any(not np.array_equal(a[m], c_[m]) for m in ("episodic", "semantic"))


def test_modes_are_checked_and_oracle_is_refused_on_real_data():
    with pytest.raises(ValueError, match="unknown imagination"):
        imagination.check_mode("dream", "synthetic")
    with pytest.raises(ValueError, match="only the synthetic"):
        imagination.check_mode("oracle", "ravdess")
    with pytest.raises(ValueError, match="only the synthetic"):
        StudyConfig(dataset="mmi", clifer=clifer.CLIFERConfig(imagination="oracle"))
    with pytest.raises(ValueError, match="only the synthetic"):
        StudyConfig(dataset="mmi", models=("gdm", "clifer_oracle"))
    StudyConfig(dataset="mmi", models=("gdm",), clifer=clifer.CLIFERConfig(imagination="oracle"))  # unused
    for mode in ("caae", "none"):
        StudyConfig(dataset="baum1").set(f"clifer.imagination={mode}")
    with pytest.raises(ValueError, match="imagination"):
        clifer.CLIFERConfig(imagination="oracle-ish")
    with pytest.raises(ValueError, match="imagination 'caae' needs"):
        study.make_run("clifer", gdm.GDMConfig(dim=4, capacity=8, semantic_capacity=4))


def test_runner_runs_the_ablations_beside_clifer_and_compares_them_paired(tmp_path):
    """`clifer_none` and `clifer_oracle` run beside CLIFER in one study; the oracle table is
    encoded once; results.json holds their paired differences with CLIFER."""
    cfg = StudyConfig(models=("clifer", "clifer_none", "clifer_oracle"), seed=3).with_caae_preset("tiny").set(
        "synthetic.n_subjects=2", "caae_pool.identities=6", "synthetic.clips_per_class=2",
        "synthetic.frames_per_clip=3", "synthetic.seed=3")
    res = study.run(cfg, tmp_path, progress=False, log=lambda *_: None)
    assert res["imagination"] == "caae"
    assert (tmp_path / "units" / "oracle" / "done").exists()
    for model in cfg.models:
        f1 = res["models"][model]["episodic"]["exp2_f1"]["mean"]
        assert len(f1) == 6 and all(0.0 <= v <= 1.0 for v in f1)
    pairs = {(r["a"], r["b"]) for r in res["paired"]["exp2_f1_final"]}
    assert {("clifer/semantic", "clifer_none/semantic"), ("clifer_oracle/semantic", "clifer/semantic")} <= pairs
    # every model without imagination scores 1.0 at step 1 of Exp. 1; the ablation does too
    assert res["models"]["clifer_none"]["episodic"]["exp1_f1"]["mean"][0] == 1.0
    # the same study with CLIFER's own imagination set to "oracle" gives clifer_oracle's numbers
    same = study.run(cfg.replace(models=("clifer",)).set("clifer.imagination=oracle"), tmp_path / "o",
                     progress=False, log=lambda *_: None)
    for memory in ("episodic", "semantic"):      # the GDM family is deterministic: the key is unused
        assert same["models"]["clifer"][memory]["exp2_f1"] == res["models"]["clifer_oracle"][memory]["exp2_f1"]
    assert json.loads((tmp_path / "o" / "results.json").read_text())["config"]["clifer"]["imagination"] == "oracle"
