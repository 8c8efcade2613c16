"""From images to the models' inputs and predictions: the CAAE, the memories' features,
the oracle's imaginings, the models' configs (docs/design.md, "Features").

    params = train_or_load_caae(cfg, "runs/x/caae", seed=0, pool=pool_images(cfg))
    feats = encode_features(cfg, params, train, test, pool)
    data = subject_data(feats, train, test)
    preds = run_model(cfg, "clifer", data, imagine_params(params, feats))

Each function takes what it needs and nothing else, so a study can be rebuilt step by
step from Python (`study.run` chains them with checkpoints in a run folder).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clifer_jax import features, gdm, hosts, imagination, sharding
from clifer_jax.caae import store as caae_store
from clifer_jax.caae.api import CAAEParams
from clifer_jax.caae.pool import load_or_train
from clifer_jax.caae.train import data_fingerprint, restore_params
from clifer_jax.gdm.config import GDMConfig
from clifer_jax.mlp import MLPConfig
from clifer_jax.study import data as study_data
from clifer_jax.study import models
from clifer_jax.study.config import StudyConfig
from clifer_jax.study.store import StudyError
from clifer_jax.validate import check_fits


def caae_seeds(cfg: StudyConfig) -> tuple[int, ...]:
    """The CAAE training seeds of a run; the first one's features make the headline results."""
    return tuple(cfg.caae_seeds) if cfg.caae_seeds else (cfg.seed,)


def train_or_load_caae(cfg: StudyConfig, ckpt_dir, seed: int, pool: dict, *,
                       progress: bool = True, mesh=None) -> CAAEParams:
    """The CAAE `cfg.caae` trained with `seed` on `pool` (`data.pool_images`): restored from
    `ckpt_dir` when a finished training of the same config, seed and data is there,
    otherwise trained (an unfinished one resumed) into it; mesh: data-parallel over its
    devices (`caae_mesh`)."""
    if cfg.caae.identity_weight > 0 and cfg.caae.identity_net == "vgg-face":
        raise StudyError("caae.identity_net=vgg-face needs the VGG-Face weights, which a study does not "
                         "load: train that CAAE with `python -m experiments.train_caae --identity-net "
                         "vgg-face PATH` and pass its checkpoint folder as --caae-dir")
    return load_or_train(cfg.caae, str(ckpt_dir), seed=seed, data=pool, progress=progress, mesh=mesh)


def caae_mesh(devices=None):
    """The mesh a run's CAAE trains data-parallel over: its devices (`devices`: None for
    one device, or all devices of a multi-process run; an int n for the first n), or None
    for one device."""
    if devices is None and hosts.count() == 1:
        return None
    mesh = sharding.subject_mesh(devices, axis="batch")
    return mesh if mesh.devices.size > 1 else None


def caae_for_run(cfg: StudyConfig, folder, seed: int, pool: dict, store_root=None, *,
                 progress: bool = True, log=print, devices=None) -> tuple[CAAEParams, dict]:
    """The CAAE a run uses for `seed`, and a record of where it came from ({"source",
    "path", "fingerprint"}): the run folder's own `folder` when it holds a checkpoint (a run
    started there, or one with the store off), else the CAAE store (`caae.store`; trained
    there the first time), and `folder` becomes a link to the store's entry (so that
    `--caae-dir runs/x/caae` keeps working). store_root: the store's folder (None:
    `caae.store.default_root()`), or False to train in the run folder as
    `train_or_load_caae` does. devices: train data-parallel over the run's devices
    (`caae_mesh`); on several processes the writer decides and writes, all train."""
    sha = data_fingerprint(cfg.caae, pool["image"], pool["expression"])
    record = {"seed": int(seed), "fingerprint": caae_store.fingerprint(cfg.caae, sha, seed)}
    own = Path(folder)
    mesh = caae_mesh(devices)
    if store_root is False or hosts.from_writer(own.is_dir() and any(p.name.isdigit() for p in own.iterdir())):
        return (train_or_load_caae(cfg, own, seed, pool, progress=progress, mesh=mesh),
                {**record, "source": "run folder", "path": str(own)})
    if cfg.caae.identity_weight > 0 and cfg.caae.identity_net == "vgg-face":
        train_or_load_caae(cfg, own, seed, pool)          # raises: a study does not load VGG-Face
    params, path = caae_store.load_or_train(cfg.caae, pool, seed, store_root, progress=progress, log=log,
                                            mesh=mesh)
    if hosts.is_writer():
        if own.is_symlink():                              # a link to an entry since removed
            own.unlink()
        if not own.exists():
            own.symlink_to(path.resolve(), target_is_directory=True)
    return params, {**record, "source": "store", "path": str(path)}


def load_caae(cfg: StudyConfig, ckpt_dir, seed: int, pool: dict) -> CAAEParams:
    """The finished CAAE in `ckpt_dir` (a folder named by the user to be reused, e.g.
    another run's `caae/`): it must hold a finished training of `cfg.caae` with `seed` on
    `pool`, or StudyError says what is there instead. Nothing is trained."""
    where = f"--caae-dir {ckpt_dir}"
    if not Path(ckpt_dir).is_dir():
        raise StudyError(f"{where}: no such folder; name the `caae/` folder of a finished run, or leave "
                         f"--caae-dir out to train a CAAE in the run folder")
    try:
        params, meta = restore_params(cfg.caae, str(ckpt_dir))
    except FileNotFoundError:
        raise StudyError(f"{where} holds no CAAE checkpoint") from None
    except ValueError as e:
        raise StudyError(f"{where}: {e}; the run's CAAE is {cfg.caae.name!r} with its --set changes") from None
    if not meta.get("done"):
        raise StudyError(f"{where} holds an unfinished training: finish it with the run that started it")
    if meta.get("seed") != seed:
        raise StudyError(f"{where} was trained with seed {meta.get('seed')}, the run asks for {seed}")
    if meta.get("data_sha256") != data_fingerprint(cfg.caae, pool["image"], pool["expression"]):
        raise StudyError(f"{where} was trained on another pool (seed, preset or caae_pool settings differ)")
    return params


def encode_features(cfg: StudyConfig, params: CAAEParams, train, test, pool: dict) -> dict:
    """The memories' features of every training and test image [S, C, L, D] (padding rows
    0), standardised as `cfg.feature_norm` says with statistics of the CAAE's own pool
    (`features.encode_subjects`)."""
    return features.encode_subjects(params, pool["image"], train.x, train.mask, test.x, test.mask,
                                    cfg.feature_norm)


def imagine_params(params: CAAEParams, feats: dict):
    """What `features.imagine_unchecked` takes: the CAAE and the features' transform."""
    return params, features.stored_transform(feats)


def subject_data(feats: dict, train, test) -> models.SubjectData:
    """The models' input: features with the labels and masks of the SubjectArrays."""
    return models.subject_data(feats["train"], train.y, train.mask, feats["test"], test.y, test.mask)


def oracle_table(cfg: StudyConfig, params: CAAEParams, feats: dict, train) -> np.ndarray:
    """The oracle's imagined features of every training sample and class [S, C, L, K, D]
    (`imagination.oracle_table`; synthetic data only): the renderer's true faces, encoded
    like every other feature."""
    transform = features.stored_transform(feats)
    return imagination.oracle_table(
        cfg.synthetic, train.subjects, train.y, train.clip, train.frame, train.mask,
        lambda im: features.encode(params, transform, im), channels=cfg.caae.channels,
        image_size=cfg.caae.image_size, pool=study_data.synthetic_pool_name(cfg))


def model_configs(cfg: StudyConfig, data: models.SubjectData) -> tuple[GDMConfig, MLPConfig]:
    """The GDM's and the MLPs' configs sized from the data: feature size D, and (unless
    set) the episodic capacity of every training sample of a subject."""
    c, l, d = data.x.shape[1:]
    return cfg.gdm.for_data(d, c * l), cfg.mlp.for_data(d)


def gdm_state_bytes(cfg: StudyConfig, gdm_config: GDMConfig, subjects: int, points: int = 1) -> int:
    """Bytes of the GDM states a study holds at once (0 without a GDM-family model): both
    memories of every subject (× grid points run at once), twice (a call's input and
    output states are alive together)."""
    if not any(models.spec(m).family == "gdm" for m in cfg.models):
        return 0
    return 2 * points * gdm.state_bytes(gdm_config, subjects)


def check_memory(cfg: StudyConfig, train, points: int = 1) -> None:
    """Refuse GDM states that cannot fit (ValueError naming `gdm.capacity`) before anything
    is trained or compiled: the GDM config is sized from the training arrays and the
    CAAE's latent size, as `model_configs` will size it from the features."""
    subjects, c, l = train.mask.shape
    gdm_config = cfg.gdm.for_data(cfg.caae.z_dim, c * l)
    check_fits(gdm_state_bytes(cfg, gdm_config, subjects, points),
               f"gdm.capacity={gdm_config.capacity}: the GDM states of {subjects} subjects"
               f"{f' × {points} grid points' if points > 1 else ''}",
               "lower gdm.capacity (none: every training sample of a subject; a memory's state is "
               "about N·(4·(K+1)·D + 16·max_degree) bytes)")


def make_model_run(cfg: StudyConfig, model: str, gdm_config: GDMConfig, mlp_config: MLPConfig):
    """The per-subject run function of `model` in this study (`models.make_run`)."""
    return models.make_run(model, gdm_config, mlp_config, imagine_fn=features.imagine_unchecked,
                           clifer_config=cfg.clifer)


def run_model(cfg: StudyConfig, model: str, data: models.SubjectData, imagine_args, *, order=None,
              run=None, devices=None) -> dict:
    """`model` on every subject with the study's seed and numbers: {memory: predictions
    [S, T, C, Lt]} (the MLPs also "train_acc" [S, T]). order: the class order (default
    `cfg.order`); run: a run function made earlier (`make_model_run`), to reuse its
    compilation."""
    gdm_config, mlp_config = model_configs(cfg, data)
    run = run or make_model_run(cfg, model, gdm_config, mlp_config)
    params = cfg.gdm_params.cast(gdm_config.dtype) if models.spec(model).family == "gdm" else None
    return models.run_subjects(run, models.model_key(cfg.seed, model), data,
                               cfg.order if order is None else order, imagine_args,
                               devices=devices, params=params)


def caae_folder(root, cfg: StudyConfig, caae_seed: int) -> Path:
    """Where a run folder keeps the CAAE of `caae_seed`: `caae/` for the first seed."""
    first = caae_seed == caae_seeds(cfg)[0]
    return Path(root) / ("caae" if first else f"caae-seed{caae_seed}")
