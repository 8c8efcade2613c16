"""Growing Dual Memory (SPEC §3): episodic and semantic Gamma-GWR with pseudo-rehearsal.

    cfg = reference_config(dim=50, episodic_capacity=512, replay=True)
    state = init(cfg, x0, y0, m0)              # first class step's data
    for x, y, m in class_steps:
        state = learn_class(cfg, state, x, y, m)
    pred = predict(cfg, state, x_test)         # pred.episodic / pred.semantic

The `*_unchecked` functions are the pure kernels; `jax.vmap` them over subjects.
"""

from clifer_jax.gdm.api import init, learn_class, learn_extra, predict
from clifer_jax.gdm.config import GDMConfig, GDMParams, check_gdm_params, reference_config
from clifer_jax.gdm.memory import (GDMPrediction, GDMState, init_unchecked,
                                   learn_class_unchecked, learn_extra_unchecked,
                                   predict_unchecked, replay, state_bytes)
from clifer_jax.gdm.replay import PseudoSamples, pseudo_samples
from clifer_jax.gdm.sharded import init_sharded, learn_class_sharded, predict_sharded

__all__ = [
    "GDMConfig", "GDMParams", "GDMPrediction", "check_gdm_params", "GDMState", "PseudoSamples", "init", "init_sharded",
    "init_unchecked", "learn_class", "learn_class_sharded", "learn_class_unchecked", "learn_extra",
    "learn_extra_unchecked", "predict", "predict_sharded", "predict_unchecked", "pseudo_samples",
    "reference_config", "replay", "state_bytes",
]
