"""The CLIFER experiment pipeline, as testable functions (docs/design.md).

    results = run_experiment(get_config("synthetic"), "runs/default")

Stages, each checkpointed in the output folder so an interrupted run resumes
without redoing finished work: the CAAE (orbax, `caae/`), the encoded
features (`units/features`), then one unit per (model, order) with the
predictions of every subject after every class step (`units/<model>@<order>`).
Scores, `results.json`, `report.md` and the plots are written at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp
from tqdm import tqdm

from clifer_jax import clifer, experiment, features, gdm, imagination, mlp
from clifer_jax.classes import EXPRESSIONS
from clifer_jax.data import loading
from experiments import data_checks, report
from experiments.configs import ExperimentConfig, caae_preset
from experiments.lock import RunLock, RunLocked


class ExperimentError(RuntimeError):
    """A run that cannot go on (bad config, missing data); the message says what to do."""


# ----------------------------------------------------------------------------- orders


def order_study_orders(cfg: ExperimentConfig) -> dict[str, tuple[int, ...]]:
    """The run's order-study orders (`clifer_jax.experiment.order_study_orders`)."""
    return experiment.order_study_orders(cfg.order, cfg.seed)


def units(cfg: ExperimentConfig) -> list[tuple[str, str, tuple[int, ...]]]:
    """(model, order name, order) for every unit of work of the run."""
    out = [(m, "default", tuple(cfg.order)) for m in cfg.models]
    if cfg.order_study:
        for name, order in order_study_orders(cfg).items():
            out += [(m, name, order) for m in cfg.order_models]
    return out


def caae_seeds(cfg: ExperimentConfig) -> tuple[int, ...]:
    """The CAAE training seeds of a run; the first one's features make the headline results."""
    return tuple(cfg.caae_seeds) if cfg.caae_seeds else (cfg.seed,)


def seed_tag(cfg: ExperimentConfig, caae_seed: int) -> str:
    """Suffix of the units of a CAAE seed: "" for the first, "~caae<N>" for the others."""
    return "" if caae_seed == caae_seeds(cfg)[0] else f"~caae{caae_seed}"


# ----------------------------------------------------------------------------- storage


class Store:
    """The output folder: config.json, orbax checkpoints of finished units, results."""

    def __init__(self, out_dir, cfg: ExperimentConfig, extra: dict | None = None):
        self.root = Path(out_dir).resolve()
        self.units = self.root / "units"
        self.units.mkdir(parents=True, exist_ok=True)
        path = self.root / "config.json"
        want = {**cfg.to_dict(), **(extra or {})}
        if path.exists():
            have = json.loads(path.read_text())
            # a field added since the folder was made counts as its default value
            have = {**{k: v for k, v in type(cfg)().to_dict().items() if k not in have}, **have}
            if have != want:
                diff = {k: (have.get(k), want.get(k)) for k in set(have) | set(want)
                        if have.get(k) != want.get(k)}
                raise ExperimentError(f"{self.root} holds a run with another configuration "
                                      f"(differs in {diff}); use a new --out folder")
        else:
            path.write_text(json.dumps(want, indent=2))
        self._ckpt = ocp.PyTreeCheckpointer()

    def has(self, name: str) -> bool:
        return (self.units / name / "done").exists()

    def load(self, name: str) -> dict:
        return self._ckpt.restore(self.units / name / "data")

    def save(self, name: str, tree: dict) -> None:
        """Atomic: a unit counts as finished only once its `done` marker exists."""
        d = self.units / name
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        self._ckpt.save(d / "data", tree)
        (d / "done").write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))


# ----------------------------------------------------------------------------- data


def load_data(cfg: ExperimentConfig) -> tuple[loading.SubjectArrays, loading.SubjectArrays]:
    """Train and test SubjectArrays of the configured dataset and protocol."""
    kwargs = {}
    if cfg.dataset == "synthetic":
        kwargs["config"] = synthetic_config(cfg)
    else:
        if cfg.data_dir is None and cfg.manual_dir is None:
            raise ExperimentError(
                f"dataset {cfg.dataset!r} is not prepared: download it yourself (licence), then run "
                f"with --manual-dir <folder with the files> --data-dir <where to build it>; "
                f"see docs/data.md")
        kwargs.update(data_dir=cfg.data_dir, manual_dir=cfg.manual_dir,
                      config=data_checks.image_config(cfg.caae_preset))
    try:
        train = loading.load_subjects(cfg.dataset, "train", **kwargs)
        test = train if cfg.protocol == "reference" else loading.load_subjects(cfg.dataset, "test", **kwargs)
    except (FileNotFoundError, ValueError) as e:
        raise ExperimentError(f"cannot load dataset {cfg.dataset!r}: {data_checks.cli_message(e)}") from e
    missing = sorted(set(cfg.order) - set(train.classes))
    if missing:
        raise ExperimentError(f"the order asks for classes {[EXPRESSIONS[c] for c in missing]} "
                              f"that dataset {cfg.dataset!r} does not have (it has "
                              f"{[EXPRESSIONS[c] for c in train.classes]})")
    if cfg.subjects is not None:
        if cfg.subjects > train.num_subjects:
            raise ExperimentError(f"asked for {cfg.subjects} subjects; {cfg.dataset} has {train.num_subjects}")
        pick = lambda a: a.replace(**{k: getattr(a, k)[: cfg.subjects] for k in ("x", "y", "mask", "clip", "frame")},
                                   subjects=a.subjects[: cfg.subjects])
        train, test = pick(train), pick(test)
    return train, test


def synthetic_config(cfg: ExperimentConfig, image_size: int = 64):
    from clifer_jax.data import synthetic

    return synthetic.SyntheticConfig(image_size=image_size, n_subjects=cfg.synthetic_subjects,
                                     clips_per_class=cfg.synthetic_clips,
                                     frames_per_clip=cfg.synthetic_frames, seed=cfg.seed,
                                     preset=cfg.synthetic_preset)


def caae_pool(cfg: ExperimentConfig, ccfg) -> dict:
    """The CAAE's training images: the synthetic identity pool, disjoint from every
    evaluation subject, rendered at the CAAE's size (gray repeated to RGB if needed)."""
    from clifer_jax.caae.pool import generate_train_pool

    pool = generate_train_pool(ccfg.image_size, cfg.seed, cfg.synthetic_train_identities, cfg.synthetic_train_frames,
                               cfg.synthetic_preset, cfg.synthetic_train_sampling)
    img = pool["image"]
    if ccfg.channels == 3 and img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=-1)
    return {"image": img, "expression": pool["expression"], "subject": pool["subject"]}


def encode_all(params, train, test, pool: dict, norm: str) -> dict:
    """`clifer_jax.features.encode_subjects` of a run's SubjectArrays."""
    return features.encode_subjects(params, pool["image"], train.x, train.mask, test.x, test.mask, norm)


transform_of = features.stored_transform


def subject_data(feats: dict, train, test) -> experiment.SubjectData:
    return experiment.subject_data(feats["train"], train.y, train.mask, feats["test"], test.y, test.mask)


def model_configs(cfg: ExperimentConfig, data: experiment.SubjectData) -> tuple[gdm.GDMConfig, mlp.MLPConfig]:
    """The static GDM and MLP configs of a run: `cfg.gdm`'s and `cfg.mlp`'s settings, sizes
    from the data (default capacity: all samples of a subject). The GDM's numbers travel
    as params (`cfg.gdm.params()`), so the config is the same for every value of them."""
    c, l, d = data.x.shape[1:]
    return cfg.gdm.config(dim=d, samples_per_subject=c * l), cfg.mlp.config(d)


def make_model_run(cfg: ExperimentConfig, model: str, gdm_cfg: gdm.GDMConfig, mlp_cfg: mlp.MLPConfig):
    """The per-subject run function of `model` in this run (`clifer_jax.experiment.make_run`)."""
    return experiment.make_run(model, gdm_cfg, mlp_cfg, imagine_fn=features.imagine_unchecked,
                               clifer_config=clifer.CLIFERConfig(order=cfg.imagination_order,
                                                                 imagination=cfg.imagination))


def run_model(cfg: ExperimentConfig, run, model: str, data, order, imagine_params, devices=None) -> dict:
    """One unit: `model` on every subject with the run's seed and the GDM params of `cfg`."""
    params = cfg.gdm.params() if experiment.spec(model).family == "gdm" else None
    return experiment.run_subjects(run, experiment.model_key(cfg.seed, model), data, order,
                                   imagine_params, devices=devices, params=params)


# ----------------------------------------------------------------------------- the run


def open_run(out_dir, cfg: ExperimentConfig, extra: dict | None = None):
    """The output folder of a run (or sweep), locked: (store, lock, timings, timed), where
    `timed(key, fn)` runs fn and records its wall time in timings.json."""
    store = Store(out_dir, cfg, extra)
    try:
        lock = RunLock(store.root)
    except RunLocked as e:
        raise ExperimentError(str(e)) from None
    path = store.root / "timings.json"
    timings = json.loads(path.read_text()) if path.exists() else {}

    def timed(key, fn):
        t0 = time.perf_counter()
        out = fn()
        timings[key] = time.perf_counter() - t0
        path.write_text(json.dumps(timings, indent=2))
        return out

    return store, lock, timings, timed


def load_checked(cfg: ExperimentConfig, log=print):
    """The run's data, checked: (train, test, build report, CAAE config)."""
    train, test = load_data(cfg)
    build = data_checks.build_report(cfg.dataset, cfg.data_dir, data_checks.image_config(cfg.caae_preset))
    try:
        data_checks.check_faces(build, cfg.allow_centre_crops, log=log)
    except data_checks.NoFacesError as e:
        raise ExperimentError(str(e)) from None
    log(f"data: {cfg.dataset}, {train.num_subjects} subjects, classes "
        f"{[EXPRESSIONS[c] for c in train.classes]}, protocol {cfg.protocol}")
    ccfg = caae_preset(cfg.caae_preset, cfg.caae_epochs, cfg.caae)
    if tuple(train.x.shape[-3:]) != ccfg.image_shape:
        raise ExperimentError(f"images are {tuple(train.x.shape[-3:])} but the CAAE preset "
                              f"{ccfg.name!r} expects {ccfg.image_shape}; choose --caae-preset accordingly")
    return train, test, build, ccfg


def seed_features(cfg: ExperimentConfig, store: Store, ccfg, pool, train, test, caae_seed: int, timings,
                  timed, progress: bool = True, caae_dir=None):
    """The CAAE of `caae_seed` (trained, or restored from the run folder or `caae_dir`) and
    the memories' features of every subject (stored in the run folder):
    (SubjectData, imagine_params)."""
    from clifer_jax.caae.pool import load_or_train

    tag = seed_tag(cfg, caae_seed)
    ckpt = caae_dir or str(store.root / ("caae" if not tag else f"caae-seed{caae_seed}"))
    get_caae = lambda: load_or_train(ccfg, str(ckpt), seed=caae_seed, data=pool, progress=progress)  # noqa: E731
    # A finished training keeps the time of the run that did it (a resume only restores).
    params = get_caae() if f"caae{tag}" in timings else timed(f"caae{tag}", get_caae)
    data_sha = data_checks.arrays_sha256(train, test)
    if store.has(f"features{tag}"):
        data_checks.check_same_data(store.root, data_sha)
        feats = store.load(f"features{tag}")
    else:
        feats = timed(f"encoding{tag}", lambda: encode_all(params, train, test, pool, cfg.feature_norm))
        store.save(f"features{tag}", feats)
        data_checks.record_data(store.root, data_sha)
    features.save(store.root / f"feature_transform{tag}.json", transform_of(feats), cfg.feature_norm)
    data = subject_data(feats, train, test)
    if cfg.imagination == "oracle":   # the renderer's true faces, encoded once (clifer_jax.imagination)
        if not store.has(f"oracle{tag}"):
            encode = lambda im: features.encode(params, transform_of(feats), im)  # noqa: E731
            store.save(f"oracle{tag}", {"table": timed(f"oracle{tag}", lambda: imagination.oracle_table(
                synthetic_config(cfg), train.subjects, train.y, train.clip, train.frame, train.mask, encode,
                channels=ccfg.channels, image_size=ccfg.image_size))})
        data = data.replace(imagined=store.load(f"oracle{tag}")["table"])
    return data, (params, transform_of(feats))


def run_experiment(cfg: ExperimentConfig, out_dir, *, progress: bool = True, max_units: int | None = None,
                   devices: int | None = None, log=print) -> dict | None:
    """Run (or resume) the whole experiment. Returns the results, or None when
    `max_units` stopped it early (finished units stay checkpointed). `devices`:
    shard subjects over the first n of `jax.devices()` (None: one device); results
    do not depend on it. The runner is one process (docs/scaling.md)."""
    available = jax.device_count()
    if devices is not None and not 1 <= devices <= available:
        raise ExperimentError(f"--devices {devices}: {available} device(s) available "
                              f"({jax.process_count()} process(es))")
    use = devices if devices and devices > 1 else None
    store, lock, timings, timed = open_run(out_dir, cfg)  # noqa: F841 - lock held until return
    train, test, build, ccfg = load_checked(cfg, log)
    pool = caae_pool(cfg, ccfg)
    seeds = caae_seeds(cfg)
    runs = {}            # one run function per model: every order and CAAE seed reuses its compilation
    done_now = 0
    datas = {}
    for caae_seed in seeds:
        tag = seed_tag(cfg, caae_seed)
        data, imagine_params = seed_features(cfg, store, ccfg, pool, train, test, caae_seed, timings, timed,
                                             progress)
        datas[caae_seed] = data
        gdm_cfg, mlp_cfg = model_configs(cfg, data)

        todo = units(cfg) if not tag else [(m, "default", tuple(cfg.order)) for m in cfg.models]
        bar = tqdm(todo, desc=f"models (CAAE seed {caae_seed})" if len(seeds) > 1 else "models",
                   disable=not progress)
        for model, order_name, order in bar:
            name = f"{model}@{order_name}{tag}"
            bar.set_postfix_str(name)
            if store.has(name):
                continue
            if max_units is not None and done_now >= max_units:
                log(f"stopped after {done_now} unit(s); run again to resume")
                return None
            if model not in runs:
                runs[model] = make_model_run(cfg, model, gdm_cfg, mlp_cfg)
            run = runs[model]
            preds = timed(f"model:{name}", lambda: run_model(cfg, run, model, data, order, imagine_params,
                                                             devices=use))
            store.save(name, {k: np.asarray(v) for k, v in preds.items()})
            done_now += 1

    data = datas[seeds[0]]
    results = collect(cfg, store, data, train, timings)
    if len(seeds) > 1:
        results["over_caae_seeds"] = collect_over_seeds(cfg, store, datas)
    results["caae_seeds"] = list(seeds)
    results["imagination"] = cfg.imagination
    if build:
        results["data_build"] = build
    results["difficulty"] = timed("difficulty", lambda: measure_difficulty(cfg, data, train, test))
    report.write_all(results, store.root)
    tmp = store.root / "results.json.tmp"          # results.json appears whole or not at all
    tmp.write_text(json.dumps(results, indent=2))
    os.replace(tmp, store.root / "results.json")
    log(f"wrote {store.root / 'results.json'}, report.md and plots/")
    return results


def measure_difficulty(cfg: ExperimentConfig, data: experiment.SubjectData, train, test) -> dict:
    """How hard the run's data is (docs/data.md, "Difficulty"): within-subject 1-NN from
    training to held-out samples on the memories' features and on pixels, the
    between/within-class distance ratio of both, and for synthetic data the share of
    expressive frames below 30% intensity and the CAAE pool's domain gap."""
    from clifer_jax.data import difficulty, synthetic

    px = lambda a: np.asarray(a.x, np.float32) / 255.0  # noqa: E731
    out = {
        "feature_1nn": difficulty.within_subject_1nn(data.x, data.y, data.mask, data.x_test,
                                                     data.y_test, data.mask_test),
        "pixel_1nn": difficulty.within_subject_1nn(px(train), train.y, train.mask, px(test),
                                                   test.y, test.mask),
        "feature_distance_ratio": difficulty.distance_ratio(data.x, data.y, data.mask),
        "pixel_distance_ratio": difficulty.distance_ratio(px(train), train.y, train.mask),
    }
    if cfg.dataset == "synthetic":
        sc = synthetic_config(cfg, image_size=int(train.x.shape[-2]))
        plan = synthetic.plan(sc)
        expression = np.broadcast_to(np.arange(plan["intensity"].shape[1])[None, :, None, None],
                                     plan["intensity"].shape)
        if cfg.subjects is not None:
            plan["intensity"], expression = plan["intensity"][: cfg.subjects], expression[: cfg.subjects]
        out["preset"] = cfg.synthetic_preset
        out["low_intensity_share"] = difficulty.low_intensity_share(plan["intensity"], expression)
        from clifer_jax.caae.pool import generate_train_pool

        pool_args = (sc.image_size, cfg.seed, cfg.synthetic_train_identities, cfg.synthetic_train_frames)
        pool = generate_train_pool(*pool_args, cfg.synthetic_preset, cfg.synthetic_train_sampling)
        reference = generate_train_pool(*pool_args, synthetic.preset(cfg.synthetic_preset, gap=0.0),
                                        cfg.synthetic_train_sampling)
        evaluation = synthetic.generate(sc)
        if cfg.subjects is not None:
            keep = evaluation["subject"] < cfg.subjects
            evaluation = {k: v[keep] for k, v in evaluation.items()}
        out["domain_gap"] = difficulty.domain_gap(pool, reference, evaluation)
    return out


def collect(cfg: ExperimentConfig, store: Store, data, train, timings) -> dict:
    """Scores of every finished unit, summarised over subjects (mean, 95% CI)."""
    from clifer_jax import metrics

    out = {"config": cfg.to_dict(), "protocol": cfg.protocol, "dataset": cfg.dataset,
           "subjects": [int(s) for s in train.subjects], "classes": [EXPRESSIONS[c] for c in train.classes],
           "order": [EXPRESSIONS[c] for c in cfg.order], "models": {}, "order_study": {},
           "timings_s": timings, "backend": jax.default_backend()}
    per_unit, train_acc = {}, {}
    for model, order_name, order in units(cfg):
        preds = store.load(f"{model}@{order_name}")
        for memory in experiment.memories(model):
            per_unit[(model, order_name, memory)] = experiment.score(
                preds[memory], data.y_test, data.mask_test, order)
        if order_name == "default" and "train_acc" in preds:      # MLPs: [S, T] fit per step
            train_acc[model] = np.asarray(preds["train_acc"], np.float64)

    summary = experiment.summarise

    for (model, order_name, memory), s in per_unit.items():
        if order_name == "default":
            out["models"].setdefault(model, {})[memory] = summary(s)
    for model, acc in train_acc.items():   # beside the memory entries: not a predictor
        mean, ci = metrics.mean_ci(acc, axis=0)
        out["models"][model]["train_acc"] = {"mean": np.asarray(mean).tolist(),
                                             "ci95": np.asarray(ci).tolist(), "per_subject": acc.tolist()}
    def order_stats(groups: dict) -> dict:
        """Repeated-measures tests (Friedman, Kendall's W, Holm-corrected Wilcoxon pairs) and
        where the best order and the Neutral-first order stand; {} with fewer than 3 orders
        or 2 subjects (the tests are undefined there)."""
        if len(groups) < 3 or len(next(iter(groups.values()))) < 2:
            return {}
        focus = "first-Neutral" if "first-Neutral" in groups else None
        st = metrics.order_study_stats(groups, focus=focus, alpha=0.05)
        res = {"friedman": st["friedman"], "posthoc": st["posthoc"], "best_order": st["best_order"]}
        if focus is not None:
            res["neutral_first"] = st["focus"]
        return res

    if cfg.order_study:
        names = list(order_study_orders(cfg))
        for model in cfg.order_models:
            for memory in experiment.memories(model):
                entry = {"orders": {n: [EXPRESSIONS[c] for c in o] for n, o in order_study_orders(cfg).items()}}
                for exp in ("exp1_f1", "exp2_f1"):
                    for label, step in (("first_step", 0), ("last_step", -1)):
                        groups = {n: per_unit[(model, n, memory)][exp][:, step].tolist() for n in names}
                        entry[f"{exp}_{label}"] = {"per_order": groups, **metrics.kruskal_orders(groups),
                                                   **order_stats(groups)}
                out["order_study"].setdefault(model, {})[memory] = entry
    return out


SEED_FIGURES = experiment.HEADLINE_FIGURES
seed_figures = experiment.headline_figures


def collect_over_seeds(cfg: ExperimentConfig, store: Store, datas: dict) -> dict:
    """Every headline figure per CAAE seed (the mean over subjects) and as mean ± 95% CI
    over seeds of those subject means: {model: {memory: {figure: {mean, ci95, per_seed}}}}."""
    from clifer_jax import metrics

    out = {}
    for model in cfg.models:
        for memory in experiment.memories(model):
            per_seed = {f: [] for f in SEED_FIGURES}
            for caae_seed, data in datas.items():
                preds = store.load(f"{model}@default{seed_tag(cfg, caae_seed)}")
                figs = seed_figures(experiment.score(preds[memory], data.y_test, data.mask_test, cfg.order))
                for f in SEED_FIGURES:
                    per_seed[f].append(float(np.mean(figs[f])))
            entry = {}
            for f, vals in per_seed.items():
                mean, ci = metrics.mean_ci(np.asarray(vals), axis=0)
                entry[f] = {"mean": float(mean), "ci95": float(ci), "per_seed": vals}
            out.setdefault(model, {})[memory] = entry
    return out
