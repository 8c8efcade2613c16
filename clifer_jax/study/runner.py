"""A whole study in one call, checkpointed in a run folder (docs/study.md).

    results = run(StudyConfig(), "runs/default")

Stages, each saved as it finishes so an interrupted run resumes without redoing finished
work: the CAAE (orbax, `caae/`), the encoded features (`units/features`), then one unit
per (model, order) with the predictions of every subject after every class step
(`units/<model>@<order>`). Scores, `results.json`, `report.md` and the plots are written
at the end.
"""

from __future__ import annotations

import dataclasses
import json

import jax
import numpy as np
from tqdm import tqdm

from clifer_jax import features, hosts
from clifer_jax.classes import EXPRESSIONS
from clifer_jax.study import data as study_data
from clifer_jax.study import difficulty, models, orders, pipeline, report, scores
from clifer_jax.study.config import StudyConfig
from clifer_jax.study.store import Store, StudyError, arrays_sha256, open_run


def units(cfg: StudyConfig) -> list[tuple[str, str, tuple[int, ...]]]:
    """(model, order name, order) for every unit of work of the run's headline cell."""
    out = [(m, "default", tuple(cfg.order)) for m in cfg.models]
    if cfg.order_study:
        for name, order in orders.orders(cfg.order, cfg.seed, cfg.order_tails).items():
            out += [(m, name, order) for m in cfg.order_models]
    return out


def seed_tag(cfg: StudyConfig, caae_seed: int, data_seed: int | None = None) -> str:
    """Suffix of the units of a (CAAE seed, data seed) cell: "" for the first of both, else
    "~data<D>" and/or "~caae<N>" for the seeds that are not the first."""
    data = "" if data_seed is None or data_seed == cfg.data_seed_list()[0] else f"~data{data_seed}"
    caae = "" if caae_seed == pipeline.caae_seeds(cfg)[0] else f"~caae{caae_seed}"
    return data + caae


def for_data_seed(cfg: StudyConfig, data_seed: int) -> StudyConfig:
    """The study on the evaluation subjects of synthetic data seed `data_seed`."""
    if cfg.dataset != "synthetic" or data_seed == cfg.synthetic.seed:
        return cfg
    return cfg.replace(synthetic=dataclasses.replace(cfg.synthetic, seed=data_seed))


def check_devices(devices: int | None) -> int | None:
    """The device count to shard subjects over (None: one device), checked. On several
    processes None means every device of every process."""
    if devices is None:
        return jax.device_count() if hosts.count() > 1 else None
    available = jax.device_count()
    if isinstance(devices, bool) or not isinstance(devices, int) or devices < 1:
        raise StudyError(f"--devices must be an integer >= 1, got {devices!r}")
    if devices > available:
        raise StudyError(f"--devices {devices}: only {available} device(s) available "
                         f"({jax.process_count()} process(es))")
    return devices if devices > 1 else None


def prepare(cfg: StudyConfig, log=print, progress: bool = True):
    """The study's checked data, before anything is written: (train, test, build report).
    On several processes the writer loads a real dataset first (building a missing TFDS
    build), then the others read it."""
    if hosts.count() > 1 and cfg.dataset != "synthetic" and not hosts.is_writer():
        hosts.from_writer(None)                            # wait for the writer's build
    train, test = study_data.load_data(cfg, progress)
    if hosts.count() > 1 and cfg.dataset != "synthetic" and hosts.is_writer():
        hosts.from_writer(None)
    build = study_data.build_report(cfg)
    study_data.check_faces(build, cfg.allow_centre_crops, log=log)
    log(f"data: {cfg.dataset}, {train.num_subjects} subjects, classes "
        f"{[EXPRESSIONS[c] for c in train.classes]}, protocol {cfg.protocol}")
    return train, test, build


def needs_oracle(cfg: StudyConfig) -> bool:
    """Whether a model of the run imagines with the renderer's true faces."""
    return any(models.imagination(m, cfg.clifer) == "oracle"
               for m in set(cfg.models) | set(cfg.order_models if cfg.order_study else ()))


def seed_inputs(cfg: StudyConfig, store: Store, pool: dict, train, test, caae_seed: int, *,
                progress: bool = True, caae_params=None, data_seed: int | None = None,
                caae_store=None, log=print, devices=None):
    """The CAAE of `caae_seed` (`caae_params` when given, e.g. restored by `load_caae` from a
    folder the user named, or trained earlier in this call; else `pipeline.caae_for_run`:
    the run folder's, or the CAAE store's, `caae_store` its root) and the memories'
    features of the subjects of `data_seed` (`train`, `test`), stored in the run folder:
    (SubjectData, imagine_params, CAAE params). The run folder's `caae.json` records where
    each CAAE came from. devices: the run's (`check_devices`), which a CAAE trained here
    trains data-parallel over."""
    tag = seed_tag(cfg, caae_seed, data_seed)
    caae_tag = seed_tag(cfg, caae_seed)
    if caae_params is not None:
        params = caae_params
    else:
        folder = pipeline.caae_folder(store.root, cfg, caae_seed)
        got = {}

        def get():
            got["params"], got["record"] = pipeline.caae_for_run(cfg, folder, caae_seed, pool, caae_store,
                                                                 progress=progress, log=log, devices=devices)
            return got["params"]

        # A finished training keeps the time of the run that did it (a resume only restores).
        params = get() if f"caae{caae_tag}" in store.timings else store.timed(f"caae{caae_tag}", get)
        record_caae(store, caae_tag, got["record"])
    store.check_same_data(arrays_sha256(train, test), tag)
    if store.has(f"features{tag}"):
        feats = store.load(f"features{tag}")
    else:
        feats = store.timed(f"encoding{tag}", lambda: pipeline.encode_features(cfg, params, train, test, pool))
        store.save(f"features{tag}", feats)
    if store.writer:
        features.save(store.root / f"feature_transform{tag}.json", features.stored_transform(feats),
                      cfg.feature_norm)
    data = pipeline.subject_data(feats, train, test)
    if needs_oracle(cfg):   # the renderer's true faces, encoded once
        if not store.has(f"oracle{tag}"):
            table = store.timed(f"oracle{tag}", lambda: pipeline.oracle_table(cfg, params, feats, train))
            store.save(f"oracle{tag}", {"table": table})
        data = data.replace(imagined=store.load(f"oracle{tag}")["table"])
    return data, pipeline.imagine_params(params, feats), params


def record_caae(store: Store, caae_tag: str, record: dict) -> None:
    """Add where the CAAE of a seed came from to the run folder's `caae.json`."""
    path = store.root / "caae.json"
    have = json.loads(path.read_text()) if path.is_file() else {}
    have[f"caae{caae_tag}"] = record
    store.write_json("caae.json", have)


def run(cfg: StudyConfig, out_dir, *, progress: bool = True, max_units: int | None = None,
        devices: int | None = None, caae_store=None, log=print) -> dict | None:
    """Run (or resume) the whole study. Returns the results, or None when `max_units`
    stopped it early (finished units stay checkpointed). `devices`: shard subjects over
    the first n of `jax.devices()` (None: one device, or every device of a multi-process
    run) and train the CAAE data-parallel over them; results do not depend on it. A
    refused study (bad data, no faces) leaves `out_dir` as it found it. `caae_store`: the
    CAAE store's folder (None: `caae.store.default_root()`; False: train in the run folder).

    Cells: every (data seed, CAAE seed) of `cfg.data_seeds` × `cfg.caae_seeds`; the first
    cell makes the headline results and the order study, every cell runs `cfg.models`.

    On several processes (`clifer_jax.hosts`) every process calls it with the same
    arguments: subjects are sharded over every device, the CAAE trains data-parallel, only
    the writer prints and writes `out_dir`, and every process returns the results."""
    cfg = cfg.replace(subject_set=cfg.subject_set_for("run"))
    use = check_devices(devices)
    log, progress = (log, progress) if hosts.is_writer() else (quiet, False)
    data_seeds, seeds = cfg.data_seed_list(), pipeline.caae_seeds(cfg)
    inputs = {}
    for d in data_seeds:
        inputs[d] = prepare(for_data_seed(cfg, d), log if d == data_seeds[0] else quiet, progress)
        pipeline.check_memory(cfg, inputs[d][0])
    store, lock = open_run(out_dir, cfg.to_dict(), StudyConfig().to_dict())  # noqa: F841 - held
    pool = study_data.pool_images(cfg)
    runs = {}            # one run function per model: every order and seed reuses its compilation
    done_now = 0
    datas = {}
    for caae_seed in seeds:
        caae_params = None
        for d in data_seeds:
            tag = seed_tag(cfg, caae_seed, d)
            train, test, _ = inputs[d]
            data, imagine_args, caae_params = seed_inputs(
                for_data_seed(cfg, d), store, pool, train, test, caae_seed, progress=progress, caae_params=caae_params,
                data_seed=d, caae_store=caae_store, log=log, devices=use)
            datas[(d, caae_seed)] = data
            gdm_config, mlp_config = pipeline.model_configs(cfg, data)
            todo = units(cfg) if not tag else [(m, "default", tuple(cfg.order)) for m in cfg.models]
            cells = len(seeds) * len(data_seeds)
            bar = tqdm(todo, desc=f"models (data seed {d}, CAAE seed {caae_seed})" if cells > 1 else "models",
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
                    runs[model] = pipeline.make_model_run(cfg, model, gdm_config, mlp_config)
                preds = store.timed(f"model:{name}", lambda: pipeline.run_model(
                    cfg, model, data, imagine_args, order=order, run=runs[model], devices=use))
                store.save(name, {k: np.asarray(v) for k, v in preds.items()})
                done_now += 1

    first = (data_seeds[0], seeds[0])
    train, test, build = inputs[data_seeds[0]]
    data = datas[first]
    results = collect(cfg, store, data, train)
    if len(datas) > 1:
        results["over_seeds"] = collect_over_seeds(cfg, store, datas)
    results["caae_seeds"] = list(seeds)
    results["data_seeds"] = list(data_seeds)
    results["subject_set"] = cfg.subject_set
    results["imagination"] = cfg.clifer.imagination
    if build:
        results["data_build"] = build
    results["difficulty"] = store.timed("difficulty", lambda: difficulty.measure(
        for_data_seed(cfg, data_seeds[0]), data, train, test))
    if store.writer:
        report.write_all(results, store.root)
    store.write_json("results.json", results)
    log(f"wrote {store.root / 'results.json'}, report.md and plots/")
    return results


def quiet(*_args, **_kwargs) -> None:
    """A log that prints nothing (the data of the data seeds after the first)."""


def collect(cfg: StudyConfig, store: Store, data: models.SubjectData, train) -> dict:
    """Scores of every finished unit, summarised over subjects (mean, 95% CI), and the
    order study's tests."""
    out = {"config": cfg.to_dict(), "protocol": cfg.protocol, "dataset": cfg.dataset,
           "subjects": [int(s) for s in train.subjects], "classes": [EXPRESSIONS[c] for c in train.classes],
           "order": [EXPRESSIONS[c] for c in cfg.order], "models": {}, "order_study": {},
           "timings_s": store.timings, "backend": jax.default_backend()}
    per_unit, train_acc = {}, {}
    for model, order_name, order in units(cfg):
        preds = store.load(f"{model}@{order_name}")
        for memory in models.memories(model):
            per_unit[(model, order_name, memory)] = scores.score(preds[memory], data.y_test, data.mask_test, order)
        if order_name == "default" and "train_acc" in preds:      # MLPs: [S, T] fit per step
            train_acc[model] = preds["train_acc"]
    for (model, order_name, memory), s in per_unit.items():
        if order_name == "default":
            out["models"].setdefault(model, {})[memory] = scores.summarise(s)
    for model, acc in train_acc.items():   # beside the memory entries: not a predictor
        out["models"][model]["train_acc"] = scores.train_accuracy(acc)
    headline = {f"{model}/{memory}": scores.headline_figures(s)
                for (model, order_name, memory), s in per_unit.items() if order_name == "default"}
    out["paired"] = scores.paired_comparisons(headline, scores.comparison_pairs(cfg.models))
    if cfg.order_study:
        study_orders = orders.orders(cfg.order, cfg.seed, cfg.order_tails)
        for model in cfg.order_models:
            for memory in models.memories(model):
                entry = {"orders": {n: [EXPRESSIONS[c] for c in o] for n, o in study_orders.items()},
                         "tails": cfg.order_tails}
                for exp in ("exp1_f1", "exp2_f1"):
                    for label, step in (("first_step", 0), ("last_step", -1)):
                        per_order = {n: per_unit[(model, n, memory)][exp][:, step].tolist() for n in study_orders}
                        entry[f"{exp}_{label}"] = orders.order_tests(orders.by_first_class(per_order))
                        entry[f"{exp}_{label}"]["per_tail_order"] = per_order
                out["order_study"].setdefault(model, {})[memory] = entry
    return out


def collect_over_seeds(cfg: StudyConfig, store: Store, datas: dict) -> dict:
    """Every headline figure per (data seed, CAAE seed) cell — the mean over that cell's
    subjects — and their mean with a CI that covers both seeds' variation
    (`scores.over_seed_grid`): {model: {memory: {figure: {...}}}}."""
    data_seeds, seeds = cfg.data_seed_list(), pipeline.caae_seeds(cfg)
    out = {}
    for model in cfg.models:
        for memory in models.memories(model):
            cells = [[scores.score(store.load(f"{model}@default{seed_tag(cfg, c, d)}")[memory],
                                   datas[(d, c)].y_test, datas[(d, c)].mask_test, cfg.order)
                      for c in seeds] for d in data_seeds]
            out.setdefault(model, {})[memory] = scores.over_seed_grid(cells)
    return out
