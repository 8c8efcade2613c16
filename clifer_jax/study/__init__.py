"""A CLIFER study as library functions: data → CAAE → features → models → scores
(docs/study.md).

    from clifer_jax import study

    cfg = study.StudyConfig().set("synthetic.n_subjects=6")
    results = study.run(cfg, "runs/small")                # checkpointed, resumable

or step by step, without a run folder:

    train, test = study.load_data(cfg)
    pool = study.pool_images(cfg)
    params = study.train_or_load_caae(cfg, "runs/caae", seed=cfg.seed, pool=pool)
    feats = study.encode_features(cfg, params, train, test, pool)
    data = study.subject_data(feats, train, test)
    preds = study.run_model(cfg, "clifer", data, study.imagine_params(params, feats))
    s = study.score(preds["episodic"], data.y_test, data.mask_test, cfg.order)
"""

from clifer_jax.study.config import DATASETS, PROTOCOLS, StudyConfig
from clifer_jax.study.data import load_data, pool_images
from clifer_jax.study.difficulty import feature_1nn
from clifer_jax.study.difficulty import measure as measure_difficulty
from clifer_jax.study.grid import point_keys, run_grid, stack
from clifer_jax.study.models import (DEFAULT_MODELS, GDM_MODELS, MODELS, REGISTRY, ModelSpec, SubjectData,
                                     make_run, memories, model_key, run_subjects)
from clifer_jax.study.orders import orders as order_study_orders
from clifer_jax.study.pipeline import (caae_seeds, encode_features, imagine_params, load_caae,
                                       model_configs, oracle_table, run_model, subject_data,
                                       train_or_load_caae)
from clifer_jax.study.runner import run
from clifer_jax.study.runner import for_data_seed
from clifer_jax.study.scores import (HEADLINE_FIGURES, comparison_pairs, exp1_average, headline_figures,
                                     over_seed_grid, paired_comparisons, score, summarise)
from clifer_jax.study.store import StudyError
from clifer_jax.study.sweeper import sweep

__all__ = [
    "DATASETS", "DEFAULT_MODELS", "GDM_MODELS", "HEADLINE_FIGURES", "MODELS", "PROTOCOLS", "REGISTRY", "ModelSpec",
    "StudyConfig", "StudyError", "SubjectData", "caae_seeds", "comparison_pairs", "encode_features", "exp1_average", "for_data_seed", "feature_1nn",
    "headline_figures", "imagine_params", "load_caae", "load_data", "make_run", "measure_difficulty",
    "memories", "model_configs", "model_key", "oracle_table", "order_study_orders", "over_seed_grid", "paired_comparisons", "point_keys",
    "pool_images", "run", "run_grid", "run_model", "run_subjects", "score", "stack", "subject_data",
    "summarise", "sweep", "train_or_load_caae",
]
