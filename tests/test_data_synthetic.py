"""Synthetic FER: prototypes, identities, the renderer and the generated dataset (SPEC §5)."""

import dataclasses

import numpy as np
import pytest

from clifer_jax.classes import EXPRESSIONS, INDEX
from clifer_jax.data import synthetic as sy

# The original data (preset "easy"): its ramp, layout and personal-style checks. The
# posed and spontaneous presets are tested in test_data_presets.py.
SMALL = sy.SyntheticConfig(n_subjects=6, clips_per_class=4,
                           frames_per_clip=6, preset="easy")


@pytest.fixture(scope="module")
def small():
    return sy.generate(SMALL)


def _au(*names):
    return {sy.AU_NAMES.index(n) for n in names}


def test_au_names_and_prototypes_follow_spec():
    assert sy.AU_NAMES == ("AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU12", "AU15", "AU20",
                           "AU23", "AU26")
    active = {name: set(np.flatnonzero(sy.prototype_aus(INDEX[name]))) for name in EXPRESSIONS}
    assert active["Happiness"] == _au("AU6", "AU12", "AU26")  # AU26 stands in for AU25
    assert active["Sadness"] == _au("AU1", "AU4", "AU15")
    assert active["Surprise"] == _au("AU1", "AU2", "AU5", "AU26")
    assert active["Fear"] == _au("AU1", "AU2", "AU4", "AU5", "AU20", "AU26")
    assert active["Anger"] == _au("AU4", "AU5", "AU7", "AU23")
    assert active["Neutral"] == set()
    p = sy.prototype_aus(0)
    p[:] = 9  # a copy: the table itself cannot be changed through it
    assert sy.PROTOTYPES.max() <= 1.0
    with pytest.raises(ValueError, match="expression"):
        sy.prototype_aus(6)


def test_identities_are_deterministic_prefix_stable_and_pool_disjoint():
    a = sy.sample_identities(3, 5)
    b = sy.sample_identities(3, 8)
    assert a.shape == (5,) and a.au_gain.shape == (5, 11) and a.au_coupling.shape == (5, 11, 11)
    for k in a.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k)[:5])
    t = sy.sample_identities(3, 5, pool="train")
    assert not np.isclose(a.face_w[:, None], t.face_w[None]).any()
    assert not np.array_equal(a.skin, sy.sample_identities(4, 5).skin)
    with pytest.raises(ValueError, match="pool"):
        sy.sample_identities(0, 2, pool="test")
    with pytest.raises(ValueError, match="n must be"):
        sy.sample_identities(0, 0)


def test_render_shapes_broadcasting_and_batch_independence():
    ids = sy.sample_identities(0, 3)
    aus = sy.PROTOTYPES[[0, 2, 3]]
    img = sy.render(ids, aus)
    assert img.shape == (3, 64, 64, 1) and img.dtype == np.uint8
    # One identity wearing all six prototypes broadcasts.
    one = sy.render(ids.take(1), sy.PROTOTYPES)
    assert one.shape == (6, 64, 64, 1)
    np.testing.assert_array_equal(one[2], img[1])  # same face and AUs, different batch
    assert sy.render(ids, aus, image_size=32).shape == (3, 32, 32, 1)
    # nuisance=None is the canonical view.
    np.testing.assert_array_equal(img, sy.render(ids, aus, sy.canonical_nuisance((3,))))
    # An image does not depend on the batch it is drawn in (chunking, padding).
    rng = np.random.default_rng(0)
    many = sy.sample_identities(0, 20)
    aus = sy.PROTOTYPES[rng.integers(0, 6, 20)]
    nui = sy.sample_nuisance(rng, (20,))
    batch = sy.render(many, aus, nui)
    for i in (0, 13, 19):
        one = sy.render(many.take(i), aus[i], sy.Nuisance(
            **{k: getattr(nui, k)[i] for k in sy.Nuisance.__dataclass_fields__}))
        np.testing.assert_array_equal(one, batch[i])


def test_render_is_deterministic_and_expressions_change_the_face():
    ids = sy.sample_identities(1, 2)
    nui = sy.sample_nuisance(np.random.default_rng(0), (2,))
    a = sy.render(ids, sy.PROTOTYPES[[2, 2]], nui)
    np.testing.assert_array_equal(a, sy.render(ids, sy.PROTOTYPES[[2, 2]], nui))
    faces = sy.render(ids.take(0), sy.PROTOTYPES).astype(np.int32)
    neutral = faces[INDEX["Neutral"]]
    for c in range(5):
        assert np.abs(faces[c] - neutral).sum() > 2000, EXPRESSIONS[c]  # ~80 px × 25 levels
    # Pixel noise is there with nuisance and absent without.
    clean = sy.render(ids, sy.PROTOTYPES[[2, 2]], dataclasses.replace(nui, noise=nui.noise * 0))
    assert 0 < np.abs(a.astype(int) - clean).mean() < 10


def test_personal_style_changes_what_a_face_shows():
    ids = sy.sample_identities(0, 2)
    left, right = sy.effective_aus(ids, np.broadcast_to(sy.PROTOTYPES[2], (2, 11)))
    assert left.shape == (2, 11)
    assert not np.allclose(left[0], left[1])  # gains differ between people
    assert not np.allclose(left, right)  # asymmetry


@pytest.mark.parametrize("bad", [np.zeros(10), np.full(11, np.nan)])
def test_render_rejects_bad_aus(bad):
    with pytest.raises(ValueError, match="aus"):
        sy.render(sy.sample_identities(0, 1).take(0), bad)


def test_render_rejects_bad_arguments():
    one = sy.sample_identities(0, 1).take(0)
    with pytest.raises(TypeError, match="Identity"):
        sy.render({"face_w": 0.6}, sy.PROTOTYPES[0])
    with pytest.raises(TypeError, match="Nuisance"):
        sy.render(one, sy.PROTOTYPES[0], nuisance={"roll": 0.0})
    with pytest.raises(ValueError, match="image_size"):
        sy.render(one, sy.PROTOTYPES[0], image_size=8)
    with pytest.raises(ValueError):  # shapes that do not broadcast
        sy.render(sy.sample_identities(0, 2), sy.PROTOTYPES[:3])


def test_generate_layout(small):
    S, C, K, F = 6, 6, 4, 6
    N = S * C * K * F
    assert small["image"].shape == (N, 64, 64, 1) and small["image"].dtype == np.uint8
    for k in ("expression", "subject", "clip", "frame", "split", "strong"):
        assert small[k].shape == (N,) and small[k].dtype == np.int32, k
    assert small["aus"].shape == (N, 11) and small["aus"].dtype == np.float32
    assert small["intensity"].shape == (N,) and small["intensity"].dtype == np.float32
    grid = small["subject"].reshape(S, C, K, F)
    assert (grid == np.arange(S)[:, None, None, None]).all()
    assert (small["expression"].reshape(S, C, K, F) == np.arange(C)[None, :, None, None]).all()
    # Split by clip: the last clip of every (subject, class) is the test clip.
    assert ((small["split"] == 1) == (small["clip"] == K - 1)).all()
    # AUs are the prototype scaled by a ramp that rises from onset to apex within a clip.
    aus = small["aus"].reshape(S, C, K, F, 11)
    level = aus.max(-1)
    np.testing.assert_allclose(aus, level[..., None] * sy.PROTOTYPES[None, :, None, None],
                               rtol=1e-6)
    moving = level[:, :5]
    assert (np.diff(moving, axis=-1) >= 0).all() and (moving[..., -1] > moving[..., 0]).all()
    assert (level[:, 5] == 0).all()


def test_generate_same_seed_same_bytes_other_seed_other_bytes(small):
    again = sy.generate(SMALL)
    for k in small:
        assert small[k].tobytes() == again[k].tobytes(), k
    other = sy.generate(dataclasses.replace(SMALL, seed=1))
    assert small["image"].tobytes() != other["image"].tobytes()
    train = sy.generate(SMALL, pool="train")
    assert train["subject"].max() == SMALL.n_subjects - 1           # a pool of n_subjects identities
    assert not np.array_equal(train["image"][:10], small["image"][:10])


@pytest.mark.parametrize("preset", ["easy", "posed"])
def test_records_can_be_redrawn_from_their_aus(preset):
    """Without nuisance (and, for posed, without speech, which is not in the AUs) a record
    is exactly ``render(its subject, its AUs)``: the ground truth an imagined face is
    compared with."""
    p = preset if preset == "easy" else sy.preset("posed", speech_share=0.0)
    cfg = dataclasses.replace(SMALL, n_subjects=2, clips_per_class=2, frames_per_clip=3,
                              nuisance=0.0, preset=p)
    rec = sy.generate(cfg)
    ids = sy.sample_identities(cfg.seed, cfg.n_subjects).take(rec["subject"])
    np.testing.assert_array_equal(sy.render(ids, rec["aus"]), rec["image"])


def test_nearest_centroid_personal_style_is_real(small):
    """Raw-pixel nearest centroid: a subject's own centroids separate its six classes; the
    centroids of the other subjects do markedly worse on it."""
    x = small["image"].reshape(len(small["image"]), -1).astype(np.float32) / 255.0
    y, s, train = small["expression"], small["subject"], small["split"] == 0
    own, others = [], []
    for subj in range(SMALL.n_subjects):
        q = (s == subj) & ~train
        for mask, acc in (((s == subj) & train, own), ((s != subj) & train, others)):
            cent = np.stack([x[mask & (y == c)].mean(0) for c in range(6)])
            d = ((x[q][:, None] - cent[None]) ** 2).sum(-1)
            acc.append(np.mean(d.argmin(1) == y[q]))
    own, others = np.mean(own), np.mean(others)
    assert own > 0.9, own
    assert others < own - 0.25, (own, others)


def test_config_validation():
    with pytest.raises(ValueError, match="test_clips_per_class"):
        sy.SyntheticConfig(clips_per_class=2, test_clips_per_class=2)
    with pytest.raises(ValueError, match="frames_per_clip"):
        sy.SyntheticConfig(frames_per_clip=0)
    with pytest.raises(TypeError):
        sy.generate({"n_subjects": 2})
    with pytest.raises(ValueError, match="pool"):
        sy.generate(SMALL, pool="nope")


def test_a_stock_face_detector_sees_faces():
    """Face-likeness, measured: OpenCV's Haar cascade (trained on photographs) finds a
    face in most canonical renders of every expression."""
    cv2 = pytest.importorskip("cv2")
    if not hasattr(cv2, "CascadeClassifier"):
        pytest.skip("OpenCV without Haar cascades (OpenCV 5); pin opencv-python-headless<5")
    from clifer_jax.data.faces import haar_detector

    detect = haar_detector()
    ids = sy.sample_identities(0, 12).take((slice(None), None))
    img = sy.render(ids, sy.PROTOTYPES[None], None, 96)[..., 0]  # [12, 6, 96, 96]
    hits = np.array([[len(detect(np.pad(im, 24, mode="edge"))) > 0 for im in row]
                     for row in img])
    assert hits.mean() >= 0.85, hits.mean(0)
    assert hits.mean(0).min() >= 0.6, hits.mean(0)  # no expression is unrecognisable
