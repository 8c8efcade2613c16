"""The synthetic identity network (docs/caae.md, "The identity network"): trained on pool
identities it separates held-out faces by identity, not by expression; it checkpoints; and
the CAAE's identity loss runs on it."""

import functools

import jax
import numpy as np
import pytest

from clifer_jax.caae import config as C
from clifer_jax.caae import identity_net as idn
from clifer_jax.caae import losses
from clifer_jax.caae import train as T
from clifer_jax.data import synthetic

CFG = idn.IdentityNetConfig(image_size=32, features=(8, 16), embed_dim=16, steps=150, batch_size=32,
                            heldout=3, log_every=50)


@pytest.fixture(scope="module")
def trained():
    pool = synthetic.generate(synthetic.SyntheticConfig(image_size=32, n_subjects=15, clips_per_class=1,
                                                        test_clips_per_class=0, frames_per_clip=2, seed=4), "train")
    net, history = idn.train(CFG, pool["image"], pool["subject"], seed=0)
    return pool, net, history


def test_translation_of_a_face_costs_less_than_another_identity(trained):
    """On held-out identities: the loss between a face and the same face with another
    expression (a perfect translation) is below the loss between two identities."""
    pool, net, history = trained
    assert history[-1]["loss"] < history[0]["loss"]
    _, held = idn.split_identities(pool["subject"], CFG)
    feats = functools.partial(idn.features, net)
    to_model = lambda a: a.astype(np.float32) / 127.5 - 1.0  # noqa: E731
    same, diff = [], []
    for s in held:
        a = np.flatnonzero((pool["subject"] == s) & (pool["expression"] == 5))[:1]       # neutral
        b = np.flatnonzero((pool["subject"] == s) & (pool["expression"] != 5))         # its expressions
        for o in held[held != s]:
            c = np.flatnonzero((pool["subject"] == o) & (pool["expression"] != 5))
            diff.append(float(losses.identity_loss(feats, to_model(pool["image"][b]),
                                                   to_model(pool["image"][c]))))
        same.append(float(losses.identity_loss(feats, to_model(np.repeat(pool["image"][a], len(b), 0)),
                                               to_model(pool["image"][b]))))
    assert max(same) < min(diff), (same, diff)
    ver = idn.verification(net, pool["image"], pool["subject"], key=jax.random.key(0), n_pairs=100)
    assert ver["heldout_accuracy"] > 0.7 and ver["heldout_cos_same"] > ver["heldout_cos_different"]


def test_checkpoint_round_trip_and_reuse(trained, tmp_path):
    pool, net, _ = trained
    idn.save(str(tmp_path / "net"), net, {"seed": 0})
    back, meta = idn.restore(str(tmp_path / "net"))
    assert back.config == CFG and meta["seed"] == 0
    np.testing.assert_allclose(idn.embed(back, pool["image"][:8]), idn.embed(net, pool["image"][:8]), atol=1e-6)
    small = CFG.__class__(**{**CFG.__dict__, "steps": 5})
    a, meta_a = idn.load_or_train(small, str(tmp_path / "lt"), pool["image"], pool["subject"], seed=1)
    b, meta_b = idn.load_or_train(small, str(tmp_path / "lt"), pool["image"], pool["subject"], seed=1)
    assert meta_a == meta_b and "verification" in meta_a
    with pytest.raises(FileNotFoundError):
        idn.restore(str(tmp_path / "missing"))


def test_caae_trains_with_the_synthetic_identity_loss(trained):
    pool, net, _ = trained
    tiny = C.cpu().replace(name="tiny", image_size=32, enc_features=(4, 8, 8, 8), enc_dense=16,
                           gen_features=(8, 8, 4, 4), gen_dense_features=8, dz_features=(8, 8, 4),
                           dimg_features=(4, 4, 8, 8), dimg_dense=16, batch_size=8, epochs=1,
                           identity_weight=1.0, identity_net="synthetic")
    _, hist = T.train(tiny, pool["image"][:40], pool["expression"][:40], seed=0, identity=net, progress=False)
    assert hist[0]["identity"] > 0 and np.isfinite(hist[0]["loss"])
    with pytest.raises(ValueError, match="identity network"):
        T.train(tiny, pool["image"][:40], pool["expression"][:40], seed=0, progress=False)


def test_bad_input():
    with pytest.raises(ValueError, match="IdentityNetConfig"):
        idn.IdentityNetConfig(margin=1.5)
    with pytest.raises(ValueError, match="identities"):
        idn.split_identities(np.arange(3), CFG)
    with pytest.raises(ValueError, match="identity_net"):
        C.cpu().replace(identity_net="arcface")
