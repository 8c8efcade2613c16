"""A reduced CAAE training on a small synthetic pool (32×32, ~180 steps) whose issue-5
checks can fail: expression transfer, identity kept, latent probe, imagination, against
the renderer's ground truth on held-out identities. Bounds are looser than the issue's
(which the full cpu-preset run is measured against; see docs/caae.md)."""

import dataclasses

import jax
import numpy as np
import pytest

# the tests that take `trained` or `report` are slow: they train a CAAE for ~180 steps
# (about 100 s on 2 cores); the helpers' tests are fast

from clifer_jax.caae import config as C
from clifer_jax.caae import evaluate as EV
from clifer_jax.caae import train as T
from clifer_jax.classes import EXPRESSIONS
from clifer_jax.data import synthetic as S

# the cpu preset's losses (the TV over translations) with the image adversary and the class
# terms at 0.1 (as our first cpu runs): they learn transfer in fewer steps
SMALL = C.cpu().replace(name="small", image_size=32, epochs=10, latent_class_weight=0.1, imagine_class_weight=0.1,
                        adv_img_weight=0.01)
# the "easy" preset: the bounds below were set on it (the default "posed" data is harder)
DATA = S.SyntheticConfig(image_size=32, n_subjects=6, clips_per_class=3,
                         test_clips_per_class=1, frames_per_clip=4, preset="easy")
POOL = dataclasses.replace(DATA, n_subjects=8)        # the training pool: 8 other identities


@pytest.fixture(scope="module")
def trained():
    train = S.generate(POOL, "train")
    state, history = T.train(SMALL, train["image"], train["expression"], seed=0, progress=False)
    assert history[-1]["l1"] < history[0]["l1"]
    return state.inference_params(SMALL), S.generate(DATA, "eval")


@pytest.fixture(scope="module")
def report(trained):
    params, ev = trained
    ids = S.sample_identities(DATA.seed, DATA.n_subjects, "eval")
    return EV.evaluate(params, ev, ids, seed=0, classifier_steps=150, oracle_faces=EV.oracle_faces(DATA, "eval", ev))


@pytest.mark.slow
def test_identity_diagnosis_agrees_with_the_report(trained, report):
    params, ev = trained
    d = EV.identity_diagnosis(params, ev, seed=0, classifier_steps=150, blur_sigmas=(0.0, 1.0))
    # the same subject classifier and sources as `evaluate`: the same identity figure
    assert d["translation_identity_accuracy"] == pytest.approx(report["identity_kept_accuracy"])
    assert d["blurred_0px_subject_accuracy"] == d["real_subject_accuracy"] == report["real_subject_accuracy"]
    per = d["reconstruction_identity_per_subject"]
    assert len(per) == DATA.n_subjects  # equal sources per subject: the mean is the total
    assert np.mean(per) == pytest.approx(d["reconstruction_identity_accuracy"])
    assert d["z_subject_probe_accuracy"] >= 0.5, d  # chance 1/6
    assert d["n_sources"] == report["n_sources"]


@pytest.mark.slow
def test_evaluation_classifiers_work_on_real_faces(report):
    assert report["real_expression_accuracy"] > 0.7
    per_class = [report[f"real_expression_accuracy_{c}"] for c in range(6)]
    assert np.mean(per_class) == pytest.approx(report["real_expression_accuracy"])  # balanced classes
    assert report["real_subject_accuracy"] > 0.9


@pytest.mark.slow
def test_expression_transfer(report):
    assert report["expression_transfer_accuracy"] >= 0.33, report  # chance: 1/6; measured 0.35 (0.42 with the old cycle term)
    # the confusions' diagonals are the per-class transfers; each row sums to one
    for conf, key in ((report["transfer_confusion"], "transfer_accuracy_{}"),
                      (report["transfer_confusion_robust"], "transfer_accuracy_robust_{}")):
        conf = np.asarray(conf)
        np.testing.assert_allclose(conf.sum(1), 1.0, atol=1e-3)
        np.testing.assert_allclose(np.diag(conf), [report[key.format(c)] for c in range(6)], atol=1e-4)
    assert np.mean([report[f"transfer_accuracy_robust_{c}"] for c in range(6)]) == pytest.approx(
        report["expression_transfer_accuracy_robust"])


@pytest.mark.slow
def test_the_blur_robust_judge_reads_real_and_blurred_faces(report):
    assert report["real_expression_accuracy_robust"] > 0.7, report
    assert report["real_blurred_expression_accuracy_robust"] > 0.5, report   # sigma 2 px on 32 px faces
    assert 0.0 <= report["reconstruction_expression_accuracy_robust"] <= 1.0
    x = np.zeros((2, 9, 9, 1), np.float32)
    x[:, 4, 4] = 1.0
    b = EV._blur(x, 1.0)
    assert b.sum() == pytest.approx(2.0, rel=1e-3) and b[0, 4, 4, 0] < 0.5   # mass kept, spread out


def test_the_second_judge_keeps_the_frames_that_show_their_label():
    neutral, anger = EXPRESSIONS.index("Neutral"), EXPRESSIONS.index("Anger")
    keep = EV.shows_label([0.0, 0.0, 0.1, EV.VISIBLE_INTENSITY, 0.9], [neutral, anger, anger, anger, anger])
    np.testing.assert_array_equal(keep, [True, False, False, True, True])


@pytest.mark.slow
def test_identity_kept(report):
    assert report["identity_kept_accuracy"] >= 0.27, report  # chance: 1/6; measured 0.34


@pytest.mark.slow
def test_latent_probe_and_imagination(report):
    assert report["linear_probe_accuracy"] >= 0.5, report  # chance: 1/6; measured 0.86
    assert report["imagined_latent_probe_accuracy"] >= 0.3, report  # measured 0.64
    # the ceiling: the true action units separate the expressions of every face of this data
    assert report["true_au_probe_accuracy"] >= 0.95, report


@pytest.mark.slow
def test_image_metrics_are_sane(report):
    assert np.isfinite(report["psnr_translation_db"]) and report["psnr_translation_db"] > 10
    assert 0 < report["ssim_translation"] <= 1


@pytest.mark.slow
def test_the_oracle_figures(report):
    # the judges and E read the oracle's faces (each source's subject with every class, under
    # the frame's viewing conditions); on easy data about as well as the real held-out frames
    for key in ("oracle_transfer_accuracy", "oracle_transfer_accuracy_robust", "oracle_identity_accuracy",
                "oracle_latent_probe_accuracy", "oracle_latent_subject_1nn_accuracy",
                "imagined_latent_subject_1nn_accuracy"):
        assert 0.0 <= report[key] <= 1.0, key
    assert report["oracle_transfer_accuracy_robust"] >= 0.8, report
    assert report["oracle_identity_accuracy"] >= 0.8, report
    assert report["oracle_latent_probe_accuracy"] >= 0.5, report  # chance 1/6


def test_the_oracle_draws_a_neutral_frame_as_itself_for_neutral():
    config = dataclasses.replace(DATA, n_subjects=2)
    ev = S.generate(config, "eval")
    faces = EV.oracle_faces(config, "eval", ev, frames=(0, 1))
    src = (ev["split"] == 1) & np.isin(ev["frame"], (0, 1))
    assert faces.shape == (src.sum(), 6) + ev["image"].shape[1:] and faces.dtype == np.uint8
    neutral = EXPRESSIONS.index("Neutral")
    own = ev["expression"][src] == neutral
    assert own.any() and (~own).any()
    # Neutral has no action units: the oracle's Neutral face of a Neutral frame is the frame
    np.testing.assert_array_equal(faces[own, neutral], ev["image"][src][own])
    # and another class changes it
    assert np.abs(faces[own, EXPRESSIONS.index("Happiness")].astype(int) - ev["image"][src][own]).mean() > 1


def test_subject_1nn_against_a_brute_force_loop():
    rng = np.random.default_rng(0)
    z_ref, y_ref, s_ref = rng.normal(size=(40, 3)), rng.integers(0, 6, 40), np.repeat([0, 1, 2, 3], 10)
    z, s = rng.normal(size=(15, 3)), rng.integers(0, 4, 15)
    mu, sd = z_ref.mean(0), z_ref.std(0) + 1e-6
    want = []
    for zm, sm in zip(z, s):
        cand = [((zm - mu) / sd - (zr - mu) / sd, yr) for zr, yr, sr in zip(z_ref, y_ref, s_ref) if sr == sm]
        want.append(min(cand, key=lambda t: float(t[0] @ t[0]))[1])
    np.testing.assert_array_equal(EV.subject_1nn(z_ref, y_ref, s_ref, z, s), want)
    with pytest.raises(ValueError, match="subject 7"):
        EV.subject_1nn(z_ref, y_ref, s_ref, z[:1], np.array([7]))
    with pytest.raises(ValueError, match=r"\[R, D\] and \[M, D\]"):
        EV.subject_1nn(z_ref, y_ref, s_ref, z[:, :2], s)
    with pytest.raises(ValueError, match="s_ref must be"):
        EV.subject_1nn(z_ref, y_ref, s_ref[:-1], z, s)


def test_evaluate_refuses_oracle_faces_of_another_shape():
    config = dataclasses.replace(DATA, n_subjects=2)
    ev = S.generate(config, "eval")
    params = T.CAAEState.create(SMALL, jax.random.key(0), 1).inference_params(SMALL)  # untrained: refused first
    faces = EV.oracle_faces(config, "eval", ev)
    with pytest.raises(ValueError, match="oracle_faces must be"):
        EV.evaluate(params, ev, S.sample_identities(config.seed, 2, "eval"), oracle_faces=faces[:-1])
