"""The loading API: flat records → per-subject, per-class padded arrays."""

import numpy as np
import pytest

from clifer_jax.data import loading, synthetic


def _records(rows):
    """rows: (subject, expression, clip, frame, split) tuples; image = row index."""
    r = np.asarray(rows, np.int32)
    return {
        "image": np.arange(len(r), dtype=np.uint8)[:, None, None, None] * np.ones((1, 2, 2, 1),
                                                                               np.uint8),
        "subject": r[:, 0], "expression": r[:, 1], "clip": r[:, 2], "frame": r[:, 3],
        "split": r[:, 4],
    }


def test_padding_order_and_mask():
    # Subject 7 has 3 samples of class 0 (out of order) and 1 of class 1; subject 2 has
    # 1 and 2. Ids are sorted; within a class, samples follow clip then frame.
    rec = _records([
        (7, 0, 1, 0, 0), (7, 0, 0, 5, 0), (7, 1, 0, 0, 0), (7, 0, 0, 2, 0),
        (2, 1, 3, 1, 0), (2, 0, 0, 0, 0), (2, 1, 3, 0, 0),
    ])
    a = loading.to_subject_arrays(rec, classes=(0, 1))
    assert a.subjects == (2, 7) and a.classes == (0, 1)
    assert a.x.shape == (2, 2, 3, 2, 2, 1) and a.y.shape == a.mask.shape == (2, 2, 3)
    np.testing.assert_array_equal(a.counts(), [[1, 2], [3, 1]])
    np.testing.assert_array_equal(a.x[1, 0, :, 0, 0, 0], [3, 1, 0])  # clip 0 f2, clip 0 f5, clip 1
    np.testing.assert_array_equal(a.frame[1, 0], [2, 5, 0])
    np.testing.assert_array_equal(a.x[0, 1, :2, 0, 0, 0], [6, 4])
    np.testing.assert_array_equal(a.y[0], [[0, -1, -1], [1, 1, -1]])
    assert (a.x[~a.mask] == 0).all() and (a.clip[~a.mask] == -1).all()
    assert a.y.dtype == np.int32 and a.mask.dtype == bool
    one = a.subject(1)
    assert one.subjects == (7,) and one.x.shape[0] == 1


def test_class_axis_follows_requested_order_and_split_filter():
    rec = _records([(0, 5, 0, 0, 0), (0, 2, 0, 0, 0), (0, 2, 1, 0, 1), (0, 5, 1, 0, 1)])
    a = loading.to_subject_arrays(rec, classes=(5, 2), split="test")
    assert a.classes == (5, 2)
    np.testing.assert_array_equal(a.y[0, :, 0], [5, 2])
    np.testing.assert_array_equal(a.x[0, :, 0, 0, 0, 0], [3, 2])


def test_missing_class_is_a_clear_error():
    rec = _records([(0, 0, 0, 0, 0), (0, 1, 0, 0, 0), (1, 0, 0, 0, 0)])
    with pytest.raises(ValueError, match=r"subject 1: Sadness"):
        loading.to_subject_arrays(rec, classes=(0, 1))
    kept = loading.to_subject_arrays(rec, classes=(0, 1), drop_incomplete=True)
    assert kept.subjects == (0,) and kept.mask.all()
    with pytest.raises(ValueError, match="no records"):
        loading.to_subject_arrays(rec, classes=(0, 1), split="test")
    with pytest.raises(ValueError, match="split"):
        loading.to_subject_arrays(rec, split="validation")
    bad = dict(rec, expression=np.array([0, 1, 9], np.int32))
    with pytest.raises(ValueError, match="labels"):
        loading.to_subject_arrays(bad)
    with pytest.raises(KeyError, match="clip"):
        loading.to_subject_arrays({k: v for k, v in rec.items() if k != "clip"})


def test_load_synthetic_in_memory_matches_generate():
    cfg = synthetic.SyntheticConfig(n_subjects=3, clips_per_class=3,
                                    frames_per_clip=2)
    tr = loading.load_subjects("synthetic", "train", config=cfg)
    te = loading.load_subjects("synthetic", "test", config=cfg)
    al = loading.load_subjects("synthetic", "all", config=cfg)
    assert tr.x.shape == (3, 6, 4, 64, 64, 1) and te.x.shape == (3, 6, 2, 64, 64, 1)
    assert al.x.shape[2] == 6 and tr.mask.all() and te.mask.all()
    np.testing.assert_array_equal(tr.y, np.broadcast_to(np.arange(6)[None, :, None], tr.y.shape))
    rec = synthetic.generate(cfg)
    first = (rec["subject"] == 1) & (rec["expression"] == 4) & (rec["split"] == 1)
    np.testing.assert_array_equal(te.x[1, 4], rec["image"][first])
    pool = loading.load_subjects("synthetic_train", "train", config=cfg)
    assert pool.subjects == (0, 1, 2)                 # a pool of n_subjects identities
    assert not np.array_equal(pool.x[0], tr.x[0])
    assert "Anger" in loading.describe(tr)


def test_load_subjects_validates_arguments():
    with pytest.raises(ValueError, match="unknown dataset"):
        loading.load_subjects("affectnet", "train")
    with pytest.raises(ValueError, match="split"):
        loading.load_subjects("synthetic", "val")
    with pytest.raises(TypeError, match="SyntheticConfig"):
        loading.load_subjects("synthetic", "train", config={"n_subjects": 2})


def test_subject_arrays_is_a_pytree_mapped_over_subjects():
    import jax
    import jax.numpy as jnp

    cfg = synthetic.SyntheticConfig(n_subjects=2, clips_per_class=2, frames_per_clip=2,
                                    image_size=16)
    a = loading.load_subjects("synthetic", "train", config=cfg)
    assert len(jax.tree.leaves(a)) == 5
    per_subject = jax.vmap(lambda s: jnp.sum(s.mask * (s.y + 1)))(a)
    np.testing.assert_array_equal(per_subject, [2 * (1 + 2 + 3 + 4 + 5 + 6)] * 2)
    assert jax.tree.map(lambda v: v[:1], a).subjects == a.subjects  # metadata is static
