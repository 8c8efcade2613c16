"""The evidence protocol's configuration (docs/study.md, "Development and test subjects"):
which subjects each tool evaluates on, data seeds, and the order study's tails."""

import itertools

import numpy as np
import pytest

from clifer_jax.study import data as study_data
from clifer_jax.study import orders, runner
from clifer_jax.study.config import StudyConfig

SMALL = StudyConfig().set("synthetic.n_subjects=2", "synthetic.clips_per_class=2",
                          "synthetic.frames_per_clip=2", "caae_pool.identities=6").with_caae_preset("tiny")


def test_runs_report_on_test_subjects_and_sweeps_screen_on_development_ones():
    cfg = StudyConfig()
    assert cfg.subject_set is None
    assert (cfg.subject_set_for("run"), cfg.subject_set_for("sweep")) == ("test", "dev")
    for chosen in ("test", "dev"):
        c = cfg.replace(subject_set=chosen)
        assert c.subject_set_for("run") == c.subject_set_for("sweep") == chosen
    assert StudyConfig(dataset="ravdess").subject_set_for("sweep") == "test"   # one set of subjects
    with pytest.raises(ValueError, match="synthetic data only"):
        StudyConfig(dataset="ravdess", subject_set="dev")
    with pytest.raises(ValueError, match="synthetic data only"):
        StudyConfig(dataset="mmi", data_seeds=(0, 1))
    with pytest.raises(ValueError, match="subject_set"):
        StudyConfig(subject_set="validation")


def test_development_subjects_are_other_people():
    test_train, _ = study_data.load_data(SMALL.replace(subject_set="test"), progress=False)
    dev_train, _ = study_data.load_data(SMALL.replace(subject_set="dev"), progress=False)
    again, _ = study_data.load_data(SMALL.replace(subject_set="dev"), progress=False)
    assert test_train.x.shape == dev_train.x.shape
    np.testing.assert_array_equal(dev_train.x, again.x)                # deterministic
    for s in range(2):   # no development subject's first frame is a test subject's
        assert not any(np.array_equal(dev_train.x[s, 0, 0], test_train.x[t, 0, 0]) for t in range(2))
    # an unresolved config loads the test subjects
    unresolved, _ = study_data.load_data(SMALL, progress=False)
    np.testing.assert_array_equal(unresolved.x, test_train.x)


def test_data_seeds_draw_new_subjects_and_keep_the_caae_pool():
    cfg = SMALL.replace(data_seeds=(5, 6))
    assert cfg.data_seed_list() == (5, 6) and SMALL.data_seed_list() == (SMALL.synthetic.seed,)
    a, b = runner.for_data_seed(cfg, 5), runner.for_data_seed(cfg, 6)
    assert (a.synthetic.seed, b.synthetic.seed) == (5, 6)
    xa, _ = study_data.load_data(a, progress=False)
    xb, _ = study_data.load_data(b, progress=False)
    assert not np.array_equal(xa.x, xb.x)
    pa, pb = study_data.pool_images(a), study_data.pool_images(b)
    np.testing.assert_array_equal(pa["image"], pb["image"])          # one CAAE serves both
    assert runner.seed_tag(cfg, cfg.seed, 5) == "" and runner.seed_tag(cfg, cfg.seed, 6) == "~data6"
    assert runner.seed_tag(cfg.replace(caae_seeds=(1, 2)), 2, 6) == "~data6~caae2"


def test_order_study_tails_are_distinct_orders_of_the_rest():
    order = tuple(range(6))
    study = orders.orders(order, seed=0, tails=4)
    assert len(study) == 24
    for c in range(6):
        group = [o for o in study.values() if o[0] == c]
        assert len(group) == 4 and len(set(group)) == 4
        assert all(sorted(o[1:]) == sorted(set(order) - {c}) for o in group)
    assert {orders.first_class(n) for n in study} == {orders.first_class(n) for n in orders.orders(order, 0)}
    assert list(orders.orders(order, 0)) == [n for n in orders.orders(order, 0)
                                            if "_t" not in n]   # one tail: the plain names
    assert orders.orders(order, 0, 4) == orders.orders(order, 0, 4)   # seeded
    every = orders.orders(order, 0, 120)                            # all 5! tails exist
    assert len(set(every.values())) == 720 == len(list(itertools.permutations(order)))
    with pytest.raises(ValueError, match="only 120 orders"):
        orders.orders(order, 0, 121)
    with pytest.raises(ValueError, match="order_tails"):
        StudyConfig(order_tails=0)
    grouped = orders.by_first_class({"first-Anger_t1": [0.2, 0.4], "first-Anger_t2": [0.4, 0.8],
                                     "first-Fear": [1.0, 0.0]})
    assert grouped == {"first-Anger": pytest.approx([0.3, 0.6]), "first-Fear": [1.0, 0.0]}
