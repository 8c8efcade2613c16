"""Synthetic presets (posed, spontaneous, easy), clip dynamics, the CAAE pool's domain gap
and the difficulty measures (docs/data.md)."""

import dataclasses

import numpy as np
import pytest

from clifer_jax.classes import INDEX
from clifer_jax.data import difficulty as df
from clifer_jax.data import synthetic as sy
from clifer_jax.data.loading import to_subject_arrays

SMALL = dict(n_subjects=4, clips_per_class=3, frames_per_clip=8)


@pytest.fixture(scope="module")
def posed():
    return sy.generate(sy.SyntheticConfig(preset="posed", **SMALL))


def test_posed_is_the_default_and_presets_are_selectable():
    assert sy.SyntheticConfig().preset == "posed"
    assert sy.SyntheticConfig(preset="easy").dynamics is sy.PRESETS["easy"]
    custom = sy.preset("posed", speech_share=0.0)
    assert sy.SyntheticConfig(preset=custom).dynamics.speech_share == 0.0


def test_posed_clip_rises_from_the_subjects_neutral_face(posed):
    """The first frames of a posed clip (the onset: the reference drops the clip's first
    half-second) are near the subject's neutral face drawn in the same view; the apex
    frame is not."""
    cfg = sy.SyntheticConfig(preset="posed", **SMALL)
    pl = sy.plan(cfg)
    S, C, K, F = 4, 6, 3, 8
    img = posed["image"].reshape(S, C, K, F, 64, 64).astype(np.float32)
    intensity = posed["intensity"].reshape(S, C, K, F)
    neutral = sy.render(pl["identity"], np.zeros(11, np.float32), pl["nuisance"])
    neutral = neutral.reshape(S, C, K, F, 64, 64).astype(np.float32)
    dist = np.abs(img - neutral).mean((-1, -2))  # mean absolute grey-level difference
    lvl = intensity[:, :5]  # expressive classes
    onset = lvl[..., 0] / lvl.max(-1)
    assert (onset < 0.3).mean() > 0.5, onset  # most clips are caught rising from neutral
    # the first frames are the onset, below the hold (up to the hold's ±5% wobble: a clip
    # with the shortest lead-in and rise is at its apex by the first kept frame)
    assert (lvl[..., 0] <= lvl[..., 2] * 1.05 / 0.95).all()
    near = onset < 0.05
    assert near.sum() >= 5 and dist[:, :5, :, 0][near].max() < 1.0, dist[:, :5, :, 0][near]
    happy = INDEX["Happiness"]
    apex = intensity[:, happy].argmax(-1)
    at_apex = np.take_along_axis(dist[:, happy], apex[..., None], -1)
    assert at_apex.min() > max(3 * dist[:, :5, :, 0][near].max(), 1.0), at_apex
    # Dynamics: the level peaks inside the clip and relaxes (offset) towards its end.
    peak = lvl.argmax(-1)
    assert ((peak > 0) & (peak < F - 1)).mean() > 0.9
    assert (lvl[..., -1] / lvl.max(-1)).mean() < 0.9
    # Low-intensity frames are part of the data; Neutral has no strong clips.
    assert 0.08 < df.low_intensity_share(posed["intensity"], posed["expression"]) < 0.6
    assert posed["strong"][posed["expression"] == INDEX["Neutral"]].max() == 0
    assert 0.2 < posed["strong"][posed["expression"] != INDEX["Neutral"]].mean() < 0.8


def test_posed_frames_are_the_references_and_held_out_clips_are_second_takes():
    """Frame times are the reference's RAVDESS windows over a 30 fps clip; a held-out clip
    is a second take of one of its training clips (``plan["twin"]``): the same intensity
    level, statement and length, but a performance of its own — apex within
    ``take_apex``, its own timing, speech onset and phase, and head pose."""
    from clifer_jax.data.frames import sample_frames

    cfg = sy.SyntheticConfig(preset="posed", n_subjects=6, clips_per_class=4, frames_per_clip=8)
    times = sy._reference_times("ravdess", 8, np.arange(15)[None, :])[0]  # [15 lengths, 8]
    for extra, t in enumerate(times):
        np.testing.assert_allclose(t * (90 + extra) - 0.5, sample_frames(90, "ravdess"), atol=1e-9)
    pl = sy.plan(cfg)
    twin = pl["twin"]
    assert twin.shape == (6, 6, 1) and twin.min() >= 0 and twin.max() <= 2

    def of_twin(a):  # [S, C, K, ...] -> the twin's [S, C, ...]
        return np.take_along_axis(a[:, :, :3], twin.reshape(6, 6, 1, *(1,) * (a.ndim - 3)), 2)[:, :, 0]
    # the same intensity level (strong or normal) and whether it speaks
    np.testing.assert_array_equal(pl["strong"][:, :, 3], of_twin(pl["strong"]))
    jaw = pl["nuisance"].jaw
    np.testing.assert_array_equal((jaw[:, :, 3] > 0).any(-1), (of_twin(jaw) > 0).any(-1))
    # but its own speech (onset and phase): the jaw moves otherwise
    both = (jaw[:, :, 3] > 0).any(-1) & (of_twin(jaw) > 0).any(-1)
    assert both.sum() >= 5 and np.abs(jaw[:, :, 3] - of_twin(jaw)).mean(-1)[both].min() > 1e-3
    # apex: the peak intensity within take_apex (12%) of the twin's, up to the hold's wobble
    peak = pl["intensity"].max(-1)[..., None]  # [S, C, K, 1]
    rel = np.abs(peak[:, :5, 3, 0] / of_twin(peak)[:, :5, 0] - 1)  # expressive classes
    assert rel.max() < 0.12 * 1.05 / 0.95 + 0.05 and np.median(rel) < 0.08, rel
    # timing: frame by frame, closer to its twin than to the other takes, but not a copy
    rep = df.repetition_distance(pl["aus"], twin)
    copy = sy.plan(dataclasses.replace(cfg, preset=sy.preset("posed", take_timing=0.0, take_apex=0.0)))
    rep_copy = df.repetition_distance(copy["aus"], copy["twin"])
    assert rep_copy["ratio"] < 0.2 and 0.3 < rep["ratio"] < 0.8, (rep, rep_copy)
    # head pose changes from clip to clip by several degrees within a subject
    yaw = np.rad2deg(pl["nuisance"].head_yaw.mean(-1))  # [S, C, K]
    assert 2.0 < (yaw - yaw.mean((1, 2), keepdims=True)).std() < 4.5
    # Turning repetitions off changes only the held-out clips' performance.
    off = sy.plan(dataclasses.replace(cfg, preset=sy.preset("posed", repetition=False)))
    np.testing.assert_array_equal(off["aus"][:, :, :3], pl["aus"][:, :, :3])
    assert (off["twin"] == -1).all()
    with pytest.raises(ValueError, match="sampling"):
        sy.preset("posed", sampling="uniform")
    with pytest.raises(ValueError, match="repetition"):
        sy.preset("posed", repetition="no")
    with pytest.raises(ValueError, match="take_timing"):
        sy.preset("posed", take_timing=-0.1)


def test_easy_preset_keeps_the_original_ramp():
    rec = sy.generate(sy.SyntheticConfig(preset="easy", **SMALL))
    level = rec["aus"].reshape(4, 6, 3, 8, 11).max(-1)[:, :5]
    assert (np.diff(level, axis=-1) >= 0).all()
    np.testing.assert_allclose(level[..., 0] / level[..., -1], 0.5, rtol=1e-5)  # onset 0.5
    np.testing.assert_allclose(rec["intensity"].reshape(4, 6, 3, 8)[:, :5], level, rtol=1e-6)


def test_speech_and_pose_change_the_face_and_record_no_aus():
    rng = np.random.default_rng(0)
    one = sy.sample_identities(0, 1).take(0)
    base = sy.canonical_nuisance(())
    face = sy.render(one, sy.PROTOTYPES[INDEX["Neutral"]], base).astype(int)
    for change in (dict(jaw=np.float32(0.4)), dict(head_yaw=np.float32(np.deg2rad(15))),
                   dict(occluder=np.float32(1), occ_u=np.float32(0), occ_v=np.float32(0.4),
                        occ_size=np.float32(0.4)),
                   dict(blur=np.float32(1.5)), dict(blocks=np.float32(0.05))):
        other = sy.render(one, sy.PROTOTYPES[INDEX["Neutral"]],
                          dataclasses.replace(base, **change)).astype(int)
        assert np.abs(other - face).sum() > 500, change
    # A head turn is not a shift: one half of the face is compressed, the other widened.
    turned = sy.render(one, sy.PROTOTYPES[INDEX["Neutral"]],
                       dataclasses.replace(base, head_yaw=np.float32(np.deg2rad(15))))[..., 0]
    shifts = [np.abs(np.roll(face[..., 0], k, axis=1) - turned).mean() for k in range(-6, 7)]
    assert min(shifts) > 1.0, shifts
    del rng


def test_presets_order_by_pixel_difficulty():
    """Within-subject 1-NN on raw pixels, training clips -> held-out clip:
    easy > posed > spontaneous on a small sample."""
    acc = {}
    for name in ("easy", "posed", "spontaneous"):
        rec = sy.generate(sy.SyntheticConfig(preset=name, n_subjects=6, clips_per_class=4,
                                             frames_per_clip=8))
        tr, te = to_subject_arrays(rec, split="train"), to_subject_arrays(rec, split="test")
        acc[name] = df.within_subject_1nn(np.asarray(tr.x, np.float32), tr.y, tr.mask,
                                          np.asarray(te.x, np.float32), te.y, te.mask)["mean"]
    assert acc["easy"] > acc["posed"] + 0.2 > acc["spontaneous"] + 0.25, acc


@pytest.mark.parametrize("name", ["posed", "spontaneous", "easy"])
def test_every_preset_is_deterministic(name):
    cfg = sy.SyntheticConfig(preset=name, n_subjects=2,
                             clips_per_class=2, frames_per_clip=3)
    for pool in ("eval", "train"):
        a, b = sy.generate(cfg, pool), sy.generate(cfg, pool)
        for k in a:
            assert a[k].tobytes() == b[k].tobytes(), (pool, k)
    other = sy.generate(dataclasses.replace(cfg, seed=1))
    assert other["image"].tobytes() != a["image"].tobytes()


def test_same_subjects_in_every_preset_and_a_domain_gap_in_the_train_pool():
    ev = {n: sy.plan(sy.SyntheticConfig(preset=n, n_subjects=3))
          for n in ("easy", "posed")}
    np.testing.assert_array_equal(ev["easy"]["identity"].skin, ev["posed"]["identity"].skin)
    np.testing.assert_array_equal(ev["easy"]["identity"].au_gain, ev["posed"]["identity"].au_gain)
    cfg = sy.SyntheticConfig(n_subjects=3)
    gap = sy.plan(cfg, "train")
    none = sy.plan(dataclasses.replace(cfg, preset=sy.preset("posed", gap=0.0)), "train")
    assert not np.allclose(gap["identity"].au_gain, none["identity"].au_gain)  # styles
    assert not np.allclose(gap["aus"], none["aus"])  # perturbed prototypes
    # Another (wider) pose range in the pool than among evaluation subjects.
    ev_pose = np.abs(sy.plan(sy.SyntheticConfig(n_subjects=120), "eval")["nuisance"].head_yaw).mean()
    pool_pose = np.abs(sy.plan(sy.SyntheticConfig(n_subjects=120), "train")["nuisance"].head_yaw).mean()
    assert pool_pose > 1.1 * ev_pose, (pool_pose, ev_pose)


def test_bad_preset_names_and_parameters_are_refused():
    with pytest.raises(ValueError, match="preset.*'studio'"):
        sy.SyntheticConfig(preset="studio")
    with pytest.raises(ValueError, match="unknown synthetic preset"):
        sy.preset("studio")
    with pytest.raises(ValueError, match="strong_share"):
        sy.preset("posed", strong_share=1.5)
    with pytest.raises(ValueError, match="apex"):
        sy.preset("posed", apex=(0.9, 0.5))
    with pytest.raises(ValueError, match="pose_deg"):
        sy.preset("posed", pose_deg=-1.0)
    with pytest.raises(ValueError, match="lead"):
        sy.preset("posed", lead=(0.5, 0.6), rise=(0.3, 0.4))
    with pytest.raises(ValueError, match="gap"):
        sy.sample_identities(0, 2, gap=-1.0)


# ----------------------------------------------------------------------------- difficulty


def test_within_subject_1nn_by_hand():
    # One subject, 1-D features: train 0 (class 0), 10 (class 1); test 1 -> 0, 9 -> 1,
    # 6 -> 1 but labelled 0: 2 of 3 right. A padded train slot far away is ignored.
    x_tr = np.array([[[[0.0], [99.0]], [[10.0], [0.0]]]])  # [1, 2 classes, 2 slots, 1]
    m_tr = np.array([[[True, False], [True, False]]])
    y_tr = np.array([[[0, -1], [1, -1]]])
    x_te = np.array([[[[1.0], [6.0]], [[9.0], [0.0]]]])
    y_te = np.array([[[0, 0], [1, -1]]])
    m_te = np.array([[[True, True], [True, False]]])
    res = df.within_subject_1nn(x_tr, y_tr, m_tr, x_te, y_te, m_te)
    assert res["mean"] == pytest.approx(2 / 3) and res["per_subject"] == [pytest.approx(2 / 3)]
    with pytest.raises(ValueError, match="same subjects"):
        df.within_subject_1nn(x_tr, y_tr, m_tr, x_te[..., :0], y_te, m_te)
    with pytest.raises(ValueError, match="NaN"):
        df.within_subject_1nn(x_tr * np.nan, y_tr, m_tr, x_te, y_te, m_te)


def test_distance_ratio_and_low_intensity_by_hand():
    # Class 0 at 0 and 1, class 1 at 10 and 11: within 1, between (10+11+9+10)/4 = 10.
    x = np.array([[[[0.0], [1.0]], [[10.0], [11.0]]]])
    y = np.array([[[0, 0], [1, 1]]])
    assert df.distance_ratio(x, y, np.ones_like(y, bool)) == pytest.approx(10.0)
    inten = np.array([0.1, 0.5, 0.29, 0.0, 0.9])
    expr = np.array([0, 0, 1, INDEX["Neutral"], 2])  # Neutral is not counted
    assert df.low_intensity_share(inten, expr) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="threshold"):
        df.low_intensity_share(inten, expr, threshold=0)


def test_repetition_distance_by_hand():
    # One subject, one class, clips 0 and 1 train, clip 2 held out repeating clip 1; two
    # frames of a 1-D feature: held-out (5, 5), twin (4, 6), other (0, 10).
    x = np.array([[[[0.0, 10.0], [4.0, 6.0], [5.0, 5.0]]]])[..., None]  # [1, 1, 3, 2, 1]
    res = df.repetition_distance(x, np.array([[[1]]]))
    assert res == {"twin": pytest.approx(1.0), "other": pytest.approx(5.0), "ratio": pytest.approx(0.2)}
    # Three training clips, the twin's distance against the mean of the two others; a
    # held-out clip without a twin (-1) is left out.
    x = np.array([[[[0.0], [2.0], [4.0], [1.0], [9.0]]]])[..., None]  # [1, 1, 5, 1, 1]
    res = df.repetition_distance(x, np.array([[[0, -1]]]))
    assert res["twin"] == pytest.approx(1.0) and res["other"] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="no held-out clip has a twin"):
        df.repetition_distance(x, np.array([[[-1, -1]]]))
    with pytest.raises(ValueError, match="two training clips"):
        df.repetition_distance(x[:, :, :2], np.array([[[0]]]))
    with pytest.raises(ValueError, match="twin must"):
        df.repetition_distance(x, np.array([[[3, 0]]]))
    with pytest.raises(ValueError, match="S, C"):
        df.repetition_distance(x, np.array([[0, 0]]))


def test_domain_gap_by_hand():
    # 2x1 "images": Neutral 0, class 0 moves pixel 0, class 1 moves pixel 1 (subject-wise).
    def recs(shift):
        img = np.array([[0, 0], [10, 0], [0, 10]] * 2, np.float32)
        img[3:, 0] += shift  # the second subject's frames
        return {"image": img[:, :, None], "expression": np.array([INDEX["Neutral"], 0, 1] * 2),
                "subject": np.array([0, 0, 0, 1, 1, 1])}
    swapped = recs(0.0)
    swapped["expression"] = np.array([INDEX["Neutral"], 1, 0] * 2)  # a pool whose classes look swapped
    res = df.domain_gap(swapped, recs(0.0), recs(5.0))
    assert res["reference_to_eval"] == 1.0
    assert res["pool_to_eval"] == pytest.approx(1 / 3)  # only Neutral is right
    assert res["gap"] == pytest.approx(2 / 3)
