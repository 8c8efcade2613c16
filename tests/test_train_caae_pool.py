"""`train_caae --train-identities`: the same number of training images over more identities,
disjoint from the evaluation pool; bad counts are refused."""

import numpy as np
import pytest

from clifer_jax.caae import config
from experiments.train_caae import synthetic_pool


def test_more_identities_same_image_count():
    cfg = config.cpu()
    base = synthetic_pool(cfg, "train", 0)
    more = synthetic_pool(cfg, "train", 0, identities=192)
    assert len(more["image"]) == len(base["image"])
    assert len(np.unique(more["subject"])) == 192 and len(np.unique(base["subject"])) == 48
    assert np.bincount(more["expression"]).min() == np.bincount(more["expression"]).max()  # balanced
    # The evaluation pool does not change with the training pool.
    np.testing.assert_array_equal(synthetic_pool(cfg, "eval", 0, identities=192)["image"],
                                  synthetic_pool(cfg, "eval", 0)["image"])


def test_bad_identity_count_is_refused():
    with pytest.raises(ValueError, match="divide 192"):
        synthetic_pool(config.cpu(), "train", 0, identities=50)
