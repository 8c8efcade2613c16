"""Training curves (docs/caae.md, "Training curves"): TensorBoard event files with every
step's losses and each epoch's figures, a PNG beside them in the checkpoint folder, and a
checkpoint folder that still restores with them inside."""

import struct as pystruct

import numpy as np

from clifer_jax.caae import train as T
from clifer_jax.caae.pool import load_or_train
# test_caae_train's model and schedule (3 epochs of 5 steps on 40 faces): the very training
# step program its runs compile, loaded here from the session's compilation cache.
from test_caae_train import TINY


def _scalars(folder):
    """{tag: [(step, value)]} read back from the TFRecord event files (no TensorFlow)."""
    from tensorboardX.proto import event_pb2

    out = {}
    for f in sorted(folder.glob("events.out.tfevents.*")):
        data = f.read_bytes()
        i = 0
        while i < len(data):
            (n,) = pystruct.unpack("<Q", data[i:i + 8])
            ev = event_pb2.Event.FromString(data[i + 12:i + 12 + n])
            i += 12 + n + 4
            for v in ev.summary.value:
                out.setdefault(v.tag, []).append((ev.step, v.simple_value))
    return out


def test_curves_are_written_and_the_checkpoint_still_restores(tmp_path):
    rng = np.random.default_rng(0)
    data = {"image": rng.integers(0, 256, (40, 32, 32, 1), dtype=np.uint8),
            "expression": rng.integers(0, 6, 40).astype(np.int32)}
    ckpt = tmp_path / "caae"
    params = load_or_train(TINY, str(ckpt), seed=0, data=data, progress=False)
    scalars = _scalars(ckpt / "tensorboard")
    assert [s for s, _ in scalars["caae/step/l1"]] == list(range(1, 16))       # 3 epochs × 5 steps
    assert len(scalars["caae/epoch/l1"]) == 3 and all(np.isfinite(v) for _, v in scalars["caae/step/loss"])
    assert (ckpt / "curves.png").stat().st_size > 5_000
    again = load_or_train(TINY, str(ckpt), seed=0, data=data, progress=False)       # restored, not retrained
    np.testing.assert_array_equal(np.asarray(again.encoder["z"]["kernel"]),
                                  np.asarray(params.encoder["z"]["kernel"]))


def test_heldout_figures_join_each_epoch():
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 256, (40, 32, 32, 1), dtype=np.uint8), rng.integers(0, 6, 40).astype(np.int32)
    hx, hy = rng.integers(0, 256, (12, 32, 32, 1), dtype=np.uint8), rng.integers(0, 6, 12).astype(np.int32)
    _, hist = T.train(TINY, x, y, seed=0, progress=False, heldout=(hx, hy))
    for rec in hist:
        assert 0 < rec["heldout_l1"] < 2 and 0 <= rec["heldout_latent_acc"] <= 1 and 0 <= rec["heldout_imagine_acc"] <= 1
