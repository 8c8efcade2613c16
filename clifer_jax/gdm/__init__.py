"""Growing Dual Memory (docs/design.md): episodic and semantic Gamma-GWR with pseudo-rehearsal.

    cfg = GDMConfig(dim=50, capacity=512)      # static: sizes and the schedule
    params = GDMParams()                       # traced: both memories' numbers
    state = init(cfg, x0, y0, m0, params)      # first class step's data
    for x, y, m in class_steps:
        state = learn_class(cfg, state, x, y, m, params, replay=True)
    pred = predict(cfg, state, x_test, params) # pred.episodic / pred.semantic

The `*_unchecked` functions are the pure kernels, taking `(config, params, state, ...)`;
`jax.vmap` them over subjects (or use the `*_sharded` entry points).
"""

from clifer_jax.gdm.api import init, learn_class, learn_extra, predict
from clifer_jax.gdm.config import GDMConfig, GDMParams, check_gdm_params
from clifer_jax.gdm.memory import (GDMPrediction, GDMState, init_unchecked, learn_class_unchecked,
                                   learn_extra_unchecked, predict_unchecked, replay_unchecked,
                                   state_bytes)
from clifer_jax.gdm.replay import PseudoSamples, pseudo_samples_unchecked
from clifer_jax.gdm.sharded import init_sharded, learn_class_sharded, predict_sharded

__all__ = [
    "GDMConfig", "GDMParams", "GDMPrediction", "GDMState", "PseudoSamples", "check_gdm_params", "init",
    "init_sharded", "init_unchecked", "learn_class", "learn_class_sharded", "learn_class_unchecked",
    "learn_extra", "learn_extra_unchecked", "predict", "predict_sharded", "predict_unchecked",
    "pseudo_samples_unchecked", "replay_unchecked", "state_bytes",
]
