"""The CAAE's synthetic training pool (`clifer_jax.caae.pool`): many identities, one clip
per class; disjoint from the evaluation pool, which it never changes; bad sizes refused."""

import numpy as np
import pytest

from clifer_jax.caae import config
from clifer_jax.caae.pool import (SAMPLING_CLIP_FRAMES, PoolConfig, generate_train_pool, synthetic_pool,
                                  train_pool_config)
from clifer_jax.data.synthetic import generate, SyntheticConfig
from clifer_jax.study.config import StudyConfig
from clifer_jax.study.data import pool_images

TRAIN_IDENTITIES, TRAIN_FRAMES = PoolConfig.identities, PoolConfig.frames


def test_default_pool_shape_and_balance():
    cfg = config.cpu()
    pool = synthetic_pool(cfg, "train", 0)
    assert len(pool["image"]) == TRAIN_IDENTITIES * 6 * TRAIN_FRAMES
    assert len(np.unique(pool["subject"])) == TRAIN_IDENTITIES
    assert np.bincount(pool["expression"]).min() == np.bincount(pool["expression"]).max()  # balanced
    assert np.all(pool["clip"] == 0)
    assert pool["image"].shape[1:] == (cfg.image_size, cfg.image_size, 1)


def test_pool_sizes_and_eval_pool_unchanged():
    cfg = config.cpu().replace(image_size=32)
    small = synthetic_pool(cfg, "train", 0, identities=5, frames=3)
    assert len(small["image"]) == 5 * 6 * 3 and small["subject"].max() == 4
    # The first identities are the same faces whatever the pool size (streams per subject).
    bigger = synthetic_pool(cfg, "train", 0, identities=7, frames=3)
    np.testing.assert_array_equal(bigger["image"][: len(small["image"])], small["image"])
    # The evaluation pool is the default one, whatever the training pool.
    np.testing.assert_array_equal(synthetic_pool(cfg, "eval", 0)["image"],
                                  generate(SyntheticConfig(image_size=32), "eval")["image"])


def test_study_uses_the_same_pool():
    exp = StudyConfig(seed=4).set("caae_pool.identities=3", "caae_pool.frames=2",
                                  "synthetic.preset=spontaneous", "caae.image_size=32")
    via_runner = pool_images(exp)
    direct = generate(train_pool_config(32, 4, 3, 2, "spontaneous"), "train")
    assert not np.array_equal(direct["image"], generate(train_pool_config(32, 4, 3, 2), "train")["image"])
    np.testing.assert_array_equal(via_runner["image"], direct["image"])
    np.testing.assert_array_equal(via_runner["expression"], direct["expression"])


@pytest.mark.parametrize("identities, frames", [(0, 2), (4, 0)])
def test_bad_pool_sizes_are_refused(identities, frames):
    with pytest.raises(ValueError, match="CAAE pool"):
        train_pool_config(64, 0, identities, frames)


def test_clip_sampling_keeps_frames_from_the_whole_clip():
    full = generate(train_pool_config(32, 0, 6, SAMPLING_CLIP_FRAMES), "train")
    pool = generate_train_pool(32, 0, 6, 2, sampling="clip")
    clips = pool["subject"] * 6 + pool["expression"]
    assert len(pool["image"]) == 6 * 6 * 2 and np.all(np.bincount(clips) == 2)   # 2 distinct frames per clip
    assert all(len(np.unique(pool["frame"][clips == c])) == 2 for c in np.unique(clips))
    assert len(np.unique(pool["frame"])) > 4          # drawn over the clip, not fixed positions
    # each kept image is the full clip's image at that frame
    idx = [np.flatnonzero((full["subject"] == s) & (full["expression"] == e) & (full["frame"] == f))[0]
           for s, e, f in zip(pool["subject"], pool["expression"], pool["frame"])]
    np.testing.assert_array_equal(pool["image"], full["image"][idx])
    np.testing.assert_array_equal(pool["image"], generate_train_pool(32, 0, 6, 2, sampling="clip")["image"])
    # the default is the reference's sampling
    np.testing.assert_array_equal(generate_train_pool(32, 0, 6, 2)["image"],
                                  generate(train_pool_config(32, 0, 6, 2), "train")["image"])


@pytest.mark.parametrize("sampling, frames, match", [("onset", 2, "sampling"),
                                                     ("clip", SAMPLING_CLIP_FRAMES + 1, "clip")])
def test_bad_sampling_is_refused(sampling, frames, match):
    with pytest.raises(ValueError, match=match):
        generate_train_pool(32, 0, 2, frames, sampling=sampling)
    if sampling == "onset":
        with pytest.raises(ValueError, match="caae_pool.sampling"):
            StudyConfig().set(f"caae_pool.sampling={sampling}")
