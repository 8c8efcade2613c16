"""Development subjects (the synthetic "dev" pool, `load_subjects("synthetic_dev")`): drawn
like the test subjects from a stream of their own, disjoint from the test subjects and the
CAAE's pool, which stay as they were (docs/data.md)."""

import dataclasses
import hashlib
from types import SimpleNamespace

import numpy as np
import pytest

from clifer_jax.data import difficulty as df
from clifer_jax.data import loading
from clifer_jax.data import synthetic as sy

TINY = dict(n_subjects=2, clips_per_class=2, frames_per_clip=2, image_size=32)


def fingerprint(cfg: sy.SyntheticConfig, pool: str, clips=slice(None)) -> str:
    """SHA-256 (16 hex digits) of everything `plan` draws for `clips` (identities, AUs,
    intensities, strong flags, viewing conditions), rounded to 4 decimals so that the last
    bit of a float does not matter."""
    pl = sy.plan(cfg, pool)
    h = hashlib.sha256()
    for k in sorted(sy.Identity.__dataclass_fields__):
        h.update(np.round(np.asarray(getattr(pl["identity"], k), np.float64), 4).tobytes())
    for k in ("aus", "intensity"):
        h.update(np.round(pl[k][:, :, clips].astype(np.float64), 4).tobytes())
    h.update(pl["strong"][:, :, clips].astype(np.int8).tobytes())
    for k in sorted(sy.Nuisance.__dataclass_fields__):
        h.update(np.round(np.asarray(getattr(pl["nuisance"], k), np.float64)[:, :, clips], 4).tobytes())
    return h.hexdigest()[:16]


# Measured on the code before the "dev" pool and the second takes' variation were added.
BEFORE = {
    ("easy", "eval"): "247dbaa6a1d464f8", ("easy", "train"): "0610f09e2a89b738",
    ("spontaneous", "eval"): "ccc6f6732aa607ae", ("spontaneous", "train"): "6658721f50a8a04d",
}
# The posed preset's training clips (clip 0) then, drawn at the per-clip head pose of then (0.5°).
BEFORE_POSED_TRAINING_CLIPS = {"eval": "0ccae037eb8617dd", "train": "8bf7b467e26d0f03"}


@pytest.mark.parametrize("preset,pool", sorted(BEFORE))
def test_test_subjects_and_caae_pool_are_unchanged(preset, pool):
    assert fingerprint(sy.SyntheticConfig(preset=preset, **TINY), pool) == BEFORE[(preset, pool)]


@pytest.mark.parametrize("pool", sorted(BEFORE_POSED_TRAINING_CLIPS))
def test_posed_training_clips_changed_only_by_their_head_pose(pool):
    """The posed preset's per-clip head pose grew (0.5° -> 3°), which moves every clip; with
    the old value every training clip is drawn exactly as before: the streams, and all that
    the second takes do not touch, are unchanged."""
    cfg = sy.SyntheticConfig(preset=sy.preset("posed", clip_pose_deg=0.5), **TINY)
    assert fingerprint(cfg, pool, slice(0, 1)) == BEFORE_POSED_TRAINING_CLIPS[pool]
    now = sy.SyntheticConfig(preset="posed", **TINY)
    assert fingerprint(now, pool, slice(0, 1)) != BEFORE_POSED_TRAINING_CLIPS[pool]


@pytest.fixture(scope="module")
def pools():
    cfg = sy.SyntheticConfig(n_subjects=3, clips_per_class=2, frames_per_clip=2, image_size=32)
    return cfg, {p: sy.generate(cfg, p) for p in ("dev", "eval", "train")}


def test_dev_subjects_are_deterministic_and_share_no_image_with_the_other_pools(pools):
    cfg, g = pools
    again = sy.generate(cfg, "dev")
    for k in g["dev"]:
        assert g["dev"][k].tobytes() == again[k].tobytes(), k
    rows = {p: {im.tobytes() for im in g[p]["image"]} for p in g}
    assert len(rows["dev"]) == len(g["dev"]["image"])  # no two frames alike, even within
    assert not rows["dev"] & rows["eval"] and not rows["dev"] & rows["train"]
    for name in ("skin", "face_w", "eye_sep"):
        dev, ev, tr = (getattr(sy.sample_identities(0, 24, p), name) for p in ("dev", "eval", "train"))
        assert not np.isin(dev, ev).any() and not np.isin(dev, tr).any(), name
    # subject i is the same face whatever the number of subjects
    np.testing.assert_array_equal(sy.sample_identities(0, 2, "dev").skin,
                                  sy.sample_identities(0, 5, "dev").skin[:2])


def test_dev_subjects_follow_the_test_subjects_laws():
    """No domain gap: identities unperturbed, prototypes unperturbed (every frame's AUs are
    its class's prototype scaled), the test subjects' pose range."""
    cfg = sy.SyntheticConfig(n_subjects=4, clips_per_class=3, frames_per_clip=4)
    pl = sy.plan(cfg, "dev")
    ids = sy.sample_identities(0, 4, "dev")
    np.testing.assert_array_equal(pl["identity"].au_gain[:, 0, 0, 0], ids.au_gain)
    level = pl["intensity"][:, :5, ..., None]
    proto = sy.PROTOTYPES[None, :5, None, None]
    np.testing.assert_allclose(pl["aus"][:, :5], level * proto, rtol=1e-5, atol=1e-6)
    assert (pl["twin"] >= 0).all()  # held-out clips are second takes, as for the test subjects
    big = sy.SyntheticConfig(n_subjects=120, clips_per_class=2, frames_per_clip=2)
    pose = {p: np.abs(sy.plan(big, p)["nuisance"].head_yaw).mean() for p in ("dev", "eval")}
    assert 0.85 < pose["dev"] / pose["eval"] < 1.15, pose


def test_load_subjects_synthetic_dev():
    cfg = sy.SyntheticConfig(n_subjects=2, clips_per_class=3, frames_per_clip=2, image_size=32)
    dev = loading.load_subjects("synthetic_dev", "test", config=cfg)
    want = loading.to_subject_arrays(sy.generate(cfg, "dev"), split="test")
    np.testing.assert_array_equal(dev.x, want.x)
    assert dev.subjects == (0, 1)
    assert not np.array_equal(dev.x, loading.load_subjects("synthetic", "test", config=cfg).x)
    assert "synthetic_dev" in loading.DATASETS and loading.SYNTHETIC_POOLS["synthetic_dev"] == "dev"
    with pytest.raises(ValueError, match="generated in memory"):
        loading.load_subjects("synthetic_dev", "train", config=cfg, data_dir="/nonexistent")


def test_difficulty_measures_the_subjects_the_run_used():
    from clifer_jax.study import difficulty as sd
    from clifer_jax.study.config import StudyConfig
    from clifer_jax.study.models import subject_data

    assert sd._pool(SimpleNamespace(subject_set="dev")) == "dev"
    assert sd._pool(SimpleNamespace(subject_set="test")) == "eval"
    assert sd._pool(SimpleNamespace(subject_set=None)) == sd._pool(SimpleNamespace()) == "eval"
    cfg = StudyConfig().set("synthetic.n_subjects=2", "synthetic.clips_per_class=3",
                            "synthetic.frames_per_clip=4", "caae_pool.identities=6")
    cfg = dataclasses.replace(cfg, subject_set="dev")
    tr, te = (loading.load_subjects("synthetic_dev", s, config=cfg.synthetic) for s in ("train", "test"))
    flat = lambda a: np.asarray(a.x, np.float32).reshape(*a.x.shape[:3], -1) / 255.0  # noqa: E731
    data = subject_data(flat(tr), tr.y, tr.mask, flat(te), te.y, te.mask)
    out = sd.measure(cfg, data, tr, te)
    pl = sy.plan(cfg.synthetic, "dev")
    assert out["repetition"] == sd.repetition(pl, sy.generate(cfg.synthetic, "dev"))
    assert set(out["repetition"]) == {"aus", "pixels"}
    for v in out["repetition"].values():
        assert set(v) == {"twin", "other", "ratio"} and 0 < v["twin"] and 0 < v["other"]
    expression = np.broadcast_to(np.arange(6)[None, :, None, None], pl["intensity"].shape)
    assert out["low_intensity_share"] == df.low_intensity_share(pl["intensity"], expression)
    with pytest.raises(ValueError, match="pool"):
        sd.feature_1nn(None, None, pool="test")


def test_train_caae_screens_on_development_subjects(tmp_path, monkeypatch):
    """--evaluate, --feature-1nn, --diagnose and the per-epoch held-out faces read the
    development subjects unless --subject-set test."""
    from experiments import train_caae

    class FakeState:
        def inference_params(self, cfg):
            return "params"

    def fake_pool(cfg, pool, *a, **k):
        seen.append(("pool", pool))
        n = 32
        return {"image": np.zeros((n, 64, 64, 1), np.uint8), "expression": np.zeros(n, np.int32),
                "subject": np.arange(n) % 2}

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(train_caae, "synthetic_pool", fake_pool)
    monkeypatch.setattr(train_caae, "train", lambda *a, **k: (FakeState(), []))
    monkeypatch.setattr(train_caae, "save_grid", lambda *a, **k: None)
    monkeypatch.setattr(train_caae, "evaluate", lambda *a, **k: {})
    monkeypatch.setattr(train_caae, "identity_diagnosis", lambda *a, **k: {})
    monkeypatch.setattr(train_caae, "oracle_faces", lambda config, pool, data: seen.append(("oracle", pool)))
    monkeypatch.setattr(train_caae, "sample_identities", lambda seed, n, pool: seen.append(("ids", pool)))
    monkeypatch.setattr(train_caae, "feature_1nn", lambda *a, pool, **k: seen.append(("1nn", pool)) or
                        {"mean": 0.5, "min": 0.5})
    flags = ["--evaluate", "--feature-1nn", "--diagnose", "--no-progress"]
    for extra, pool in (([], "dev"), (["--subject-set", "test"], "eval")):
        seen = []
        report = train_caae.main(flags + extra)
        held = [p for kind, p in seen if not (kind == "pool" and p == "train")]
        assert held and set(held) == {pool}, seen
        assert {kind for kind, _ in seen} == {"pool", "ids", "1nn", "oracle"}
        assert report["subject_set"] == ("dev" if pool == "dev" else "test")
