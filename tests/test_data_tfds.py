"""The synthetic TFDS builder: array_record files read back through a data source, no TF."""

import sys

import numpy as np

from clifer_jax.data import loading, synthetic, tfds_builders

CFG = synthetic.SyntheticConfig(n_subjects=2, clips_per_class=2,
                                frames_per_clip=3)


def test_synthetic_builder_round_trip_without_tensorflow(tmp_path):
    for name in ("synthetic", "synthetic_train"):
        built = loading.load_subjects(name, "all", data_dir=tmp_path, config=CFG)
        memory = loading.load_subjects(name, "all", config=CFG)
        assert built.subjects == memory.subjects
        for k in ("x", "y", "mask", "clip", "frame"):
            np.testing.assert_array_equal(getattr(built, k), getattr(memory, k), err_msg=k)
    builder = tfds_builders.make_builder("synthetic", data_dir=tmp_path, config=CFG)
    assert builder.is_prepared()
    assert builder.info.splits["train"].num_examples == 2 * 6 * 1 * 3
    assert builder.info.metadata["pool"] == "eval"
    assert list(tmp_path.glob("synthetic_fer/eval_*/4.0.0/*.array_record*"))
    rec = builder.as_data_source("test")[0]
    assert rec["image"].dtype == np.uint8 and rec["aus"].shape == (11,)
    assert "tensorflow" not in sys.modules


def test_default_configs_have_stable_names():
    b = tfds_builders.make_builder("synthetic_train", data_dir="/nonexistent")
    assert b.builder_config.name == "train_pool"
    assert tfds_builders.make_builder("ravdess", data_dir="/nonexistent").builder_config.name \
        == "gray64"
