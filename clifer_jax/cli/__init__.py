"""`clifer`: the command line of clifer-jax, a thin layer over `clifer_jax.study`.

    clifer run    [--config FILE.py] [--caae-preset NAME] [flags] [--set PATH=VALUE ...] [--out DIR]
    clifer config [the same]                          # every config path with its value
    clifer sweep  --grid PATH=V1,V2,... [the same] [--caae-dir DIR] [--point-batch N]
    clifer caae   list | train [the same] | remove NAME... [--all]    # the CAAE store

The config is a `StudyConfig` (`clifer config` lists every leaf): `--config FILE.py` takes
the `get_config()` of a file (e.g. `experiments/configs/order_study.py`), `--caae-preset`
replaces the CAAE subtree, each flag below sets one path, then every `--set` applies in
order. A trained CAAE is kept in the CAAE store (`clifer_jax.caae.store`; `--caae-store DIR`
or $CLIFER_CAAE_STORE moves it, `--no-caae-store` trains in the run folder) and reused by
every run that needs the same one.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

from clifer_jax import config_tree, hosts, study
from clifer_jax.caae import store as caae_store
from clifer_jax.caae.config import PRESETS as CAAE_PRESETS
from clifer_jax.cli.errors import guarded
from clifer_jax.data.synthetic import PRESETS as SYNTHETIC_PRESETS
from clifer_jax.study.config import DATASETS, PROTOCOLS, StudyConfig
from clifer_jax.study.store import StudyError
from clifer_jax.study import sweeper
from clifer_jax.study.models import MODELS

SET_HELP = ("set any leaf of the config tree, e.g. --set gdm_params.episodic.activity_threshold=0.5 "
            "--set mlp.epochs=40 (repeatable, applied after the other flags; `clifer config` lists "
            "every path)")

# Flags that set one or more config paths: (flag, paths, argparse keywords, help). Their
# defaults are the tree's; a flag not given changes nothing.
FLAGS = (
    ("--dataset", ("dataset",), {}, f"one of {DATASETS}"),
    ("--protocol", ("protocol",), {}, f"one of {PROTOCOLS}"),
    ("--models", ("models",), {"nargs": "+"}, f"a subset of {MODELS}"),
    ("--order", ("order",), {"nargs": "+"}, "class names (or indices) in learning order"),
    ("--order-study", ("order_study",), {"action": "store_const", "const": "true"},
     "also run each class first, with --order-tails random orders of the rest, for --order-models"),
    ("--order-tails", ("order_tails",), {"type": int},
     "random orders of the other classes per first class in the order study (default 4)"),
    ("--order-models", ("order_models",), {"nargs": "+"}, "models of the order study"),
    ("--caae-epochs", ("caae.epochs",), {"type": int}, "the CAAE preset's epochs"),
    ("--feature-norm", ("feature_norm",), {"choices": ["pool", "none"]},
     "standardise latents by the CAAE training pool's statistics (pool, the default) or not"),
    ("--imagination-order", ("clifer.order",), {"choices": ["reference", "blocks"]},
     "CLIFER's imagination set: per BMU v then its imaginings (reference) or in blocks"),
    ("--imagination", ("clifer.imagination",), {"choices": ["caae", "oracle", "none"]},
     "CLIFER's imagined samples: the CAAE's, the renderer's true faces (oracle; synthetic data "
     "only) or none (ablation)"),
    ("--synthetic", ("synthetic.preset",), {"metavar": "PRESET"},
     f"synthetic data preset: one of {tuple(SYNTHETIC_PRESETS)} (docs/data.md)"),
    ("--subjects", ("subjects",), {"type": int}, "use only the first n subjects"),
    ("--subject-set", ("subject_set",), {"choices": ["test", "dev"]},
     "synthetic evaluation subjects: test (reported results; `run`'s default) or dev (development "
     "subjects for screening and calibration; `sweep`'s default)"),
    ("--data-dir", ("data_dir",), {}, "where a real dataset's TFDS build lives"),
    ("--manual-dir", ("manual_dir",), {}, "the downloaded dataset files (docs/data.md)"),
    ("--seed", ("seed", "synthetic.seed"), {"type": int},
     "the run's seed and the synthetic subjects' (sets seed and synthetic.seed)"),
    ("--caae-seeds", ("caae_seeds",), {"type": int, "nargs": "+"},
     "train one CAAE per seed and run every model on each (the first seed's make the headline)"),
    ("--data-seeds", ("data_seeds",), {"type": int, "nargs": "+"},
     "synthetic data seeds: new evaluation subjects per seed, one CAAE for all; every model runs "
     "on every (data seed, CAAE seed)"),
    ("--allow-centre-crops", ("allow_centre_crops",), {"action": "store_const", "const": "true"},
     "run on a real dataset where no face was detected (centre crops)"),
)


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def add_study_options(p: argparse.ArgumentParser, out: str = "runs/default") -> None:
    """The options `clifer run`, `config` and `sweep` share."""
    p.add_argument("--config", default=None, metavar="FILE.py",
                   help="start from get_config() of this file (e.g. experiments/configs/order_study.py)")
    p.add_argument("--caae-preset", default=None, choices=sorted(CAAE_PRESETS),
                   help="replace the CAAE with this preset (cpu: the default; paper: the reference "
                        "architecture; tiny: a few-second model for tests)")
    for flag, _, kwargs, help_ in FLAGS:
        p.add_argument(flag, dest=_dest(flag), default=None, help=help_, **kwargs)
    p.add_argument("--set", action="append", default=[], metavar="PATH=VALUE", dest="sets", help=SET_HELP)
    p.add_argument("--out", default=out, help="output folder (resumes if it holds this run)")
    p.add_argument("--devices", type=int, default=None,
                   help="shard subjects over the first n devices and train the CAAE data-parallel over "
                        "them (default: one; every device of a multi-process run; docs/scaling.md)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_process_options(p)
    add_store_option(p)
    p.add_argument("--no-caae-store", action="store_true",
                   help="train the CAAE in the run folder, not in the CAAE store")


def add_process_options(p: argparse.ArgumentParser) -> None:
    """Joining a multi-process (multi-host) run: `jax.distributed` (docs/scaling.md)."""
    g = p.add_argument_group("several processes (docs/scaling.md)")
    g.add_argument("--distributed", choices=["auto", "on", "off"], default="auto",
                   help="join the processes of a multi-host run: auto (when launched by SLURM's srun, "
                        "Open MPI or on a TPU pod's workers, or with --coordinator), on (let JAX detect "
                        "the cluster), off")
    g.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                   help="process 0's address, with --num-processes and --process-id: join by hand")
    g.add_argument("--num-processes", type=int, default=None, metavar="N")
    g.add_argument("--process-id", type=int, default=None, metavar="I")
    g.add_argument("--join-timeout", type=int, default=hosts.JOIN_TIMEOUT_S, metavar="S",
                   help=f"seconds to wait for every process to join (default {hosts.JOIN_TIMEOUT_S})")
    g.add_argument("--heartbeat-timeout", type=int, default=hosts.HEARTBEAT_TIMEOUT_S, metavar="S",
                   help="a process silent this long (died, or stopped on an error) ends every other "
                        f"process (default {hosts.HEARTBEAT_TIMEOUT_S})")


def join_processes(args) -> bool:
    """Join a multi-process run when the arguments or the launcher say so (before anything
    touches a device); True if joined. Each process says who it is on stderr."""
    manual = [args.coordinator, args.num_processes, args.process_id]
    if any(v is not None for v in manual) and not all(v is not None for v in manual):
        raise ValueError("joining by hand needs --coordinator, --num-processes and --process-id together")
    launcher = "by hand" if manual[0] is not None else hosts.cluster_launch()
    if args.distributed == "off" or (args.distributed == "auto" and launcher is None):
        return False
    # JAX ends a process that cannot join with its own fatal error (DEADLINE_EXCEEDED): say first
    # what it waits for
    print(f"clifer: joining a multi-process run ({launcher or 'detected by JAX'}"
          f"{'' if manual[0] is None else f': {manual[0]}, process {manual[2]} of {manual[1]}'}); waiting up to "
          f"{args.join_timeout} s for every process (--join-timeout)", file=sys.stderr, flush=True)
    try:
        hosts.join(*manual, join_timeout_s=args.join_timeout, heartbeat_timeout_s=args.heartbeat_timeout)
    except ValueError:
        raise
    except Exception as e:  # noqa: BLE001 - jax.distributed raises runtime errors of several types
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise StudyError(f"could not join the run's processes ({launcher or 'detected by JAX'}, "
                         f"--join-timeout {args.join_timeout} s): {first[:200]}") from None
    import jax

    role = f"writes {args.out}" if hosts.is_writer() else "writes nothing (process 0 writes)"
    print(f"clifer: process {hosts.index()} of {hosts.count()} ({launcher or 'detected by JAX'}; "
          f"{jax.local_device_count()} of {jax.device_count()} devices here) {role}", file=sys.stderr, flush=True)
    return True


def add_store_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--caae-store", default=None, metavar="DIR",
                   help=f"the CAAE store's folder (default ${caae_store.ENV} or the user's cache: "
                        f"{caae_store.default_root()})")


def store_root(args):
    """The store folder a command uses: False with --no-caae-store, None for the default."""
    return False if getattr(args, "no_caae_store", False) else args.caae_store


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="clifer", description="CLIFER studies in JAX (docs/study.md).")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run (or resume) a study; writes results.json, report.md, plots/",
                       epilog="config paths for --set: see `clifer config`")
    add_study_options(r)
    c = sub.add_parser("config", help="list every config path with its value (after the flags and --set)")
    add_study_options(c)
    w = sub.add_parser("sweep", help="a grid over GDM params and class orders, one compiled call per "
                                     "model; writes sweep.json, sweep.csv, plots/")
    add_study_options(w, out="runs/sweep")
    w.add_argument("--grid", action="append", default=[], metavar="PATH=V1,V2,...", required=True,
                   help="a swept path and its values (repeatable: the full grid over all of them); "
                        "paths: gdm_params.episodic.*, gdm_params.semantic.*, order")
    w.add_argument("--caae-dir", default=None,
                   help="reuse the finished CAAE in this folder (e.g. runs/default/caae) instead of training one")
    w.add_argument("--point-batch", type=int, default=None,
                   help="run this many grid points at a time inside the one compiled call (bounds "
                        "memory; CLIFER's imagination on many points can need it)")
    a = sub.add_parser("caae", help="the CAAE store: list, train or remove stored CAAEs")
    act = a.add_subparsers(dest="action", required=True)
    add_store_option(act.add_parser("list", help="the stored CAAEs, newest first"))
    t = act.add_parser("train", help="train the study's CAAE (each --caae-seeds seed) into the store, "
                                     "or say it is there")
    add_study_options(t)
    rm = act.add_parser("remove", help="delete stored CAAEs by name (`clifer caae list`)")
    rm.add_argument("names", nargs="*", metavar="NAME")
    rm.add_argument("--all", action="store_true", help="every stored CAAE")
    add_store_option(rm)
    return p


def load_config_file(path) -> StudyConfig:
    """`get_config()` of a Python file (a `StudyConfig`), as Flax's examples load theirs."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--config {path}: no such file")
    spec = importlib.util.spec_from_file_location(f"_clifer_config_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, "get_config", None)):
        raise ValueError(f"--config {path}: the file defines no get_config()")
    cfg = module.get_config()
    if not isinstance(cfg, StudyConfig):
        raise ValueError(f"--config {path}: get_config() returned a {type(cfg).__name__}, not a StudyConfig")
    return cfg


def _text(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def config_from_args(args) -> StudyConfig:
    """The resolved config of `clifer run` / `config` / `sweep` arguments: the base (file or
    default), the CAAE preset, the flags, then every --set in order. An error from a flag
    names the flag."""
    cfg = load_config_file(args.config) if args.config else StudyConfig()
    if args.caae_preset:
        cfg = cfg.with_caae_preset(args.caae_preset)
    for flag, paths, _, _ in FLAGS:
        value = getattr(args, _dest(flag))
        if value is None:
            continue
        try:
            cfg = cfg.set(*(f"{path}={_text(value)}" for path in paths))
        except ValueError as e:
            raise ValueError(f"{flag} {_text(value).replace(',', ' ')}: {e}") from None
    return cfg.set(*args.sets)


def set_warnings(cfg: StudyConfig, items) -> list[str]:
    """What a user should hear about `--set` items that change nothing: a path given twice
    (the last value applies), a section no chosen model reads."""
    out, seen = [], {}
    for item in items:
        path, text = config_tree.split_assignment(item)
        if path in seen and seen[path] != text.strip():
            out.append(f"--set {path} given twice ({seen[path]}, then {text.strip()}); the last applies")
        seen[path] = text.strip()
    chosen = set(cfg.models) | (set(cfg.order_models) if cfg.order_study else set())
    families = {study.models.spec(m).family for m in chosen}
    unused = {"mlp.": "mlp" not in families, "gdm.": "gdm" not in families,
              "gdm_params.": "gdm" not in families, "clifer.": "clifer" not in chosen}
    for path in seen:
        for prefix, idle in unused.items():
            if idle and path.startswith(prefix):
                out.append(f"--set {path}: no chosen model reads {prefix}* (models: {', '.join(sorted(chosen))})")
        if cfg.dataset != "synthetic" and path.startswith("synthetic.") and path != "synthetic.preset":
            out.append(f"--set {path}: dataset {cfg.dataset!r} does not read the synthetic subjects "
                       f"(synthetic.preset still sets the CAAE pool's)")
    return out


def main(argv=None) -> int:
    """Exit 0 on success, 2 with `clifer: error: …` for an expected failure
    (docs/troubleshooting.md), 130 on Ctrl-C; a traceback only for a bug. A process of a
    multi-process run that fails exits at once (`hosts.abort`): the others stop within
    the heartbeat timeout instead of waiting for it."""
    args = build_parser().parse_args(argv)
    if args.command == "caae" and args.action != "train":
        return guarded(lambda: caae_command(args))
    joined = []
    if args.command != "config":
        code = guarded(lambda: joined.append(join_processes(args)))
        if code:
            return code
    hint = f"finished work is kept in {args.out}; run the same command to resume"
    if not any(joined) or hosts.count() == 1:
        return guarded(lambda: _main(args), resume_hint=hint)
    try:
        code = guarded(lambda: _main(args), resume_hint=hint)
    except BaseException:   # a bug: its traceback, then out at once
        import traceback

        traceback.print_exc()
        code = 1
    if code:
        hosts.abort(f"clifer: process {hosts.index()} of {hosts.count()} stopped (exit {code}); the other "
                    f"processes stop within {args.heartbeat_timeout} s (--heartbeat-timeout)", code)
    return code


def caae_command(args) -> int:
    """`clifer caae list` / `remove`."""
    root = args.caae_store
    if args.action == "list":
        rows = caae_store.entries(root)
        where = caae_store.default_root() if root is None else root
        if not rows:
            print(f"no stored CAAEs in {where}")
            return 0
        print(f"stored CAAEs in {where}:")
        print(f"{'name':34s} {'preset':8s} {'seed':>4s} {'epochs':>7s} {'train':>8s} {'size':>9s}  modified")
        for e in rows:
            epochs = f"{e.epochs_done}/{e.epochs}" + ("" if e.done else "*")
            took = "" if e.train_seconds is None else f"{e.train_seconds / 60:.1f} min"
            print(f"{e.name:34s} {e.preset:8s} {str(e.seed):>4s} {epochs:>7s} {took:>8s} "
                  f"{e.bytes / 2**20:7.1f} MiB  {time.strftime('%Y-%m-%d %H:%M', time.localtime(e.modified))}")
        if any(not e.done for e in rows):
            print("* unfinished: the next run that needs it resumes the training")
        return 0
    names = [e.name for e in caae_store.entries(root)] if args.all else args.names
    if not names:
        raise ValueError("name the CAAEs to remove (`clifer caae list`), or pass --all")
    for path in caae_store.remove(names, root):
        print(f"removed {path}")
    return 0


def _main(args) -> int:
    cfg = config_from_args(args)
    for text in set_warnings(cfg, args.sets):
        print(f"clifer: warning: {text}", file=sys.stderr)
    if args.command == "config":
        print(config_tree.format_paths(cfg))
    elif args.command == "sweep":
        out = study.sweep(cfg, args.grid, args.out, caae_dir=args.caae_dir, caae_store=store_root(args),
                          progress=not args.no_progress, devices=args.devices, point_batch=args.point_batch)
        if hosts.is_writer():
            print(sweeper.table(out))
    elif args.command == "caae":
        pool = study.pool_images(cfg)
        mesh = study.pipeline.caae_mesh(study.runner.check_devices(args.devices))
        for seed in study.caae_seeds(cfg):
            caae_store.load_or_train(cfg.caae, pool, seed, args.caae_store, mesh=mesh,
                                     progress=not args.no_progress and hosts.is_writer(),
                                     log=print if hosts.is_writer() else (lambda *_: None))
    else:
        study.run(cfg, args.out, progress=not args.no_progress, devices=args.devices,
                  caae_store=store_root(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
