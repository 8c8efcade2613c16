"""The CAAE's synthetic training pool (`experiments.train_caae`): many identities, one clip
per class; disjoint from the evaluation pool, which it never changes; bad sizes refused."""

import numpy as np
import pytest

from clifer_jax.caae import config
from clifer_jax.data.synthetic import generate, SyntheticConfig
from experiments.runner import caae_pool
from experiments.configs import ExperimentConfig
from experiments.train_caae import TRAIN_FRAMES, TRAIN_IDENTITIES, synthetic_pool, train_pool_config


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


def test_runner_uses_the_same_pool():
    cfg = config.cpu().replace(image_size=32)
    exp = ExperimentConfig(synthetic_train_identities=3, synthetic_train_frames=2, seed=4,
                           synthetic_preset="spontaneous")
    via_runner = caae_pool(exp, cfg)
    direct = generate(train_pool_config(32, 4, 3, 2, "spontaneous"), "train")
    assert not np.array_equal(direct["image"], generate(train_pool_config(32, 4, 3, 2), "train")["image"])
    np.testing.assert_array_equal(via_runner["image"], direct["image"])
    np.testing.assert_array_equal(via_runner["expression"], direct["expression"])


@pytest.mark.parametrize("identities, frames", [(0, 2), (4, 0)])
def test_bad_pool_sizes_are_refused(identities, frames):
    with pytest.raises(ValueError, match="CAAE pool"):
        train_pool_config(64, 0, identities, frames)
