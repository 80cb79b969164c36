"""One training lifecycle for every lab: a run protocol (`Steps`) and one loop (`train`).

A *run kind* is a config dataclass plus a `Steps` subclass holding only what differs between labs:

    start()            fresh state (initial weights, chains, optimisers)
    advance(done)      one unit of the x-axis (an epoch, an update, a generator iteration); may
                       yield fractions in (0, 1) to report progress inside a long unit
    measure(done)      the metrics of a history row (empty: a snapshot without a row)
    state()            everything that determines the rest of the run, as a storable dict
    restore(snapshot)  the inverse of state()

`train(steps, partial)` owns everything that is the same: resume from a snapshot, elapsed seconds
carried over stops, history rows ``{x: done, "seconds": s, **metrics}``, when to measure, progress
records between measurements, snapshots and the final record. A snapshot is

    {"kind", "config", "x", "unit", "done", "seconds", "history", **steps.state()}

and ``partial`` is such a snapshot (for instance read back from `core.cache.DiskCache`): the resumed
run equals an uninterrupted one (same weights, same random draws). Snapshots are lazy: a record's
``extra["snapshot"]`` is a callable that copies the state *now*, valid until the next record is drawn
(calling it later raises `StaleSnapshot` instead of silently returning a later state).

The same `Steps` serves the app (`explorer.live.train_cached`), the tests, the benchmarks and the
command line (`main`): a CLI run and a page run with the same config are the same run (same cache key).
"""
from __future__ import annotations

import argparse
import copy
import importlib
import json
import pkgutil
import platform
import sys
import time
from dataclasses import asdict
from typing import Any, ClassVar, Iterable, Iterator

from core.configs import add_config_arguments, config_from_arguments  # noqa: F401 (re-exported: labs call training.main)
from core.device import threaded
from core.progress import Clock, Progress

RESERVED = ("kind", "config", "x", "unit", "done", "seconds", "history")  # snapshot keys owned by the loop


class StaleSnapshot(RuntimeError):
    """A record's snapshot was taken after the iterator had moved on."""


class Steps:
    """The steps of one run kind that differ from every other (see the module docstring).

    Subclasses set `kind` (the cache kind and CLI name), `x` (the history's x-axis: the unit that
    `advance` moves), and store `config` (the dataclass the cache key is made of) in __init__, which
    only stores arguments: state is built by `start` or `restore`.
    """

    kind: ClassVar[str] = ""  # cache kind, e.g. "rbm"
    x: ClassVar[str] = "epoch"  # name of the history's x column: what one `advance` moves
    unit: ClassVar[str] = "epoch"  # word for one unit in progress messages
    measure_initial: ClassVar[bool] = True  # a history row before the first unit
    tick: ClassVar[int] = 0  # a progress record (no snapshot) every `tick` units between measurements
    threads: ClassVar[int | None] = None  # torch threads while stepping (None: as they are; 0: core.device.default_threads)
    config: Any = None

    # -- what a kind must provide
    def total(self) -> int:
        """Units planned (for progress and for `finished`)."""
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def restore(self, snapshot: dict) -> None:
        raise NotImplementedError

    def advance(self, done: int) -> Iterable[float] | None:
        raise NotImplementedError

    def measure(self, done: int) -> dict[str, float]:
        raise NotImplementedError

    def state(self) -> dict:
        raise NotImplementedError

    # -- what a kind may refine
    def due(self, done: int) -> bool:
        """Measure (and snapshot) after unit `done`? Default: after every unit."""
        return True

    def finished(self, done: int) -> bool:
        return done >= self.total()

    def epoch(self, done: float) -> float:
        """Epochs of data seen after `done` units (for Progress.epoch)."""
        return float(done) if self.x == "epoch" else 0.0

    def message(self, done: int) -> str:
        return f"{self.unit} {done}/{self.total()}" if done else "initial state"

    def show(self) -> dict:
        """Arrays a page may draw with a measured record: by default the latest sample grid of a kind that keeps
        them in ``self.grids`` (rows {"step", "images"}), else nothing."""
        grids = getattr(self, "grids", None)
        return {"images": grids[-1]["images"]} if grids else {}

    def continues(self) -> list:
        """Configs whose finished run this run may continue from (the same run, shorter), longest first."""
        return []

    # -- shipping a run (core.assets)
    asset: ClassVar[str] = ""  # the folder under assets/ of this kind's shipped run ("": none)

    def data_arrays(self) -> tuple:
        """The arrays the run learns from and is scored on: a shipped run is used only on the same data."""
        raise NotImplementedError(f"{type(self).__name__} does not say which data it sees")

    def shippable(self, snapshot: dict) -> dict:
        """What of a finished snapshot to ship (default: all of it; drop optimiser state to stay small)."""
        return snapshot

    def asset_folder(self):
        """Where this run's shipped copy would be: assets/<asset> (a kind with several shipped runs, one per
        setting, refines this); None when the kind ships none."""
        from core import assets

        return assets.folder(self.asset) if self.asset else None

    def shipped(self) -> dict | None:
        """The shipped run made with exactly this config on the same data (core.assets.shipped), else None.
        The app asks it after its disk cache and before training, so no lab writes this lookup."""
        from core import assets

        where = self.asset_folder()
        if where is None or not (where / assets.FILENAME).is_file():
            return None
        return assets.shipped(where, self.config, assets.fingerprint(*self.data_arrays()))


class TorchSteps(Steps):
    """A run kind whose state is torch networks, their optimisers and one random generator (most labs).

    A subclass writes `build()`, which makes from `self.config` alone, seeded and without touching torch's
    global generator (`seeded`), the networks ``self.nets`` {name: nn.Module}, their optimisers
    ``self.opts`` {name: Optimizer} and the run's generator ``self.gen``; `start` and `restore` call it.
    Anything else that decides the rest of the run (persistent chains, sample grids, quality rows) goes
    through `extra_state` and `restore_extra`. So every torch kind's snapshot has the same keys:

        {"nets": {name: state dict}, "opts": {name: state dict}, "rng": generator state, **extra_state()}

    and a shipped run drops `ship_drop` ("opts", "rng"). The generator rule that makes a resumed run
    bit-exact: every random draw of a unit comes from ``self.gen`` (data order, noise, binarisation,
    sampling), never from torch's global generator, so restoring "rng" replays the same draws.
    """

    ship_drop: ClassVar[tuple[str, ...]] = ("opts", "rng")  # snapshot keys a shipped run leaves out
    nets: dict
    opts: dict
    gen: Any

    def build(self) -> None:
        """Fresh networks, optimisers and generator from the config (the state before the first unit)."""
        raise NotImplementedError

    def extra_state(self) -> dict:
        """Other state that decides the rest of the run (copies; default: none)."""
        return {}

    def restore_extra(self, snapshot: dict) -> None:
        """The inverse of `extra_state` (called after the networks, optimisers and generator are restored)."""

    def start(self) -> None:
        self.build()

    def restore(self, snapshot: dict) -> None:
        self.build()
        for name, net in self.nets.items():
            net.load_state_dict(snapshot["nets"][name])
        for name, opt in self.opts.items():
            opt.load_state_dict(snapshot["opts"][name])
        self.gen.set_state(snapshot["rng"])
        self.restore_extra(snapshot)

    def state(self) -> dict:
        return {"nets": {n: copy.deepcopy(net.state_dict()) for n, net in self.nets.items()},
                "opts": {n: copy.deepcopy(opt.state_dict()) for n, opt in self.opts.items()},
                "rng": self.gen.get_state().clone(), **self.extra_state()}

    def shippable(self, snapshot: dict) -> dict:
        return {k: v for k, v in snapshot.items() if k not in self.ship_drop}


def seeded(seed: int, make):
    """make() with torch's global generator seeded by `seed` and restored afterwards (initial weights that
    depend on the seed alone, without disturbing anyone else's draws)."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return make()


def run_kinds() -> dict[str, type]:
    """{kind: Steps subclass} of every run kind in core (each lab module imported)."""
    import core

    for mod in pkgutil.walk_packages(core.__path__, "core."):
        if not mod.name.endswith("__main__"):
            importlib.import_module(mod.name)
    out, todo = {}, [Steps]
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__dict__.get("kind"):
            out[cls.kind] = cls
    return out


def snapshot_head(steps: Steps, done: int, seconds: float, history: list) -> dict:
    return {"kind": steps.kind, "config": asdict(steps.config), "x": steps.x, "unit": steps.unit, "done": int(done),
            "seconds": float(seconds), "history": list(history)}


def train(steps: Steps, partial: dict | None = None) -> Iterator[Progress]:
    """Run `steps` from scratch, or continue the snapshot `partial`; yields Progress records.

    Records that end a measurement carry ``extra["snapshot"]`` (and metrics when the measurement added
    a history row); the last one has ``done=True``. Nothing is yielded when `partial` is already finished.
    """
    it = _train(steps, partial)
    return it if steps.threads is None else threaded(it, steps.threads or None)


def _train(steps: Steps, partial: dict | None) -> Iterator[Progress]:
    if partial is not None:
        steps.restore(copy.deepcopy(partial))  # a kind's restore may share tensors with its input: never the caller's
        history, done, before = list(partial["history"]), int(partial["done"]), float(partial["seconds"])
    else:
        steps.start()
        history, done, before = [], 0, 0.0
    if steps.finished(done):
        return
    clock = Clock()
    drawn = [0]  # records handed out so far: a snapshot refuses once the next one is drawn

    def record(n: int, measured: bool, frac: float = 0.0) -> Progress:
        secs = before + clock()
        drawn[0] += 1
        rec = Progress(n + frac if frac else n, steps.total(), steps.epoch(n + frac),
                       message=f"{steps.unit} {n + 1}/{steps.total()}" if frac else steps.message(n), elapsed=secs)
        if not measured:
            return rec
        metrics = steps.measure(n)
        if metrics:
            history.append({steps.x: n, "seconds": secs, **metrics})
        rec.metrics = dict(metrics)
        rec.done = steps.finished(n)
        rec.extra = {**steps.show(), "snapshot": _snapshotter(steps, n, secs, history, drawn)}
        return rec

    if partial is None and steps.measure_initial:
        yield record(0, True)
    while not steps.finished(done):
        for frac in steps.advance(done) or ():
            yield record(done, False, float(frac))
        done += 1
        if steps.due(done) or steps.finished(done):
            yield record(done, True)
        elif steps.tick and done % steps.tick == 0:
            yield record(done, False)


def _snapshotter(steps: Steps, done: int, secs: float, history: list, drawn: list):
    mine = drawn[0]
    hist = list(history)

    def snapshot() -> dict:
        if drawn[0] != mine:
            raise StaleSnapshot("take a record's snapshot before drawing the next record")
        state = steps.state()
        clash = set(state) & set(RESERVED)
        if clash:
            raise ValueError(f"{type(steps).__name__}.state() uses reserved keys {sorted(clash)}")
        return {**snapshot_head(steps, done, secs, hist), **state}

    return snapshot


def last_snapshot(records: Iterable[Progress]) -> dict | None:
    """Exhaust a training iterator; the snapshot of its last measured record (None if none)."""
    snap = None
    for rec in records:
        if "snapshot" in rec.extra:
            snap = rec.extra["snapshot"]()
    return snap


def run_to_end(steps: Steps, partial: dict | None = None) -> dict | None:
    """The finished run as a snapshot (None when `partial` was already finished)."""
    return last_snapshot(train(steps, partial))


def status_words(result: dict) -> str:
    """'1 epoch', '3 epochs', '400 iterations', ... of a snapshot."""
    n, unit = int(result["done"]), result.get("unit", result["x"])
    return f"{n:,} {unit}" + ("" if n == 1 else "s")


def _invoked_module(module: str) -> str:
    """The module a command was run as (`python -m core.<topic>.<module>`), else `module`."""
    invoked = getattr(getattr(sys.modules["__main__"], "__spec__", None), "name", "") or ""
    return (invoked or module) if module == "__main__" or invoked.startswith("core.") else module


def main(make_steps, config, argv=None, description: str = "", finish=None, presets: dict | None = None,
         finish_args: dict | None = None, rescore: tuple | None = None) -> dict:
    """The command line of a lab: every config field as a flag; train, print one line per measurement,
    store the finished run in the disk cache under the page's key (so the page opens it instantly),
    and with --out write it as a shipped asset (core.assets) with its provenance.

    make_steps(config, data) -> Steps. finish(result, data) -> dict of scores for the provenance
    (optional, e.g. a log-likelihood by AIS), computed only with --out. presets: {name: config}, chosen
    with --preset NAME (a page's default run), before the flags change single fields. finish_args:
    {name: (type, default, help)} of flags passed on to finish (e.g. the number of AIS temperatures).
    rescore: (folder, why): `--rescore [--threads N]` recomputes the scores of the shipped run in folder with
    finish, without training (core.assets.rescore; 2 threads by default), and notes why in its provenance.
    """
    from core import CODE_VERSION, assets
    from core import data as datasets
    from core.cache import DiskCache, make_key
    from core.device import describe, pick_device

    if rescore is not None:
        pre = argparse.ArgumentParser(add_help=False)
        pre.add_argument("--rescore", action="store_true")
        pre.add_argument("--threads", type=int, default=2)
        chosen, _ = pre.parse_known_args(argv)
        if chosen.rescore:
            __import__("torch").set_num_threads(chosen.threads)
            module = _invoked_module(make_steps.__module__)
            return assets.rescore(rescore[0], finish, f"python -m {module} --rescore", rescore[1])
    if presets:
        pre = argparse.ArgumentParser(add_help=False)
        pre.add_argument("--preset", choices=sorted(presets), default=None)
        chosen, _ = pre.parse_known_args(argv)
        config = presets[chosen.preset] if chosen.preset else config
    ap = argparse.ArgumentParser(description=description)
    if presets:
        ap.add_argument("--preset", choices=sorted(presets), default=None,
                        help="start from a page's default run (then change single fields with the flags)")
    add_config_arguments(ap, config)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--no-cache", action="store_true", help="do not store the finished run in the disk cache")
    ap.add_argument("--out", default=None, help="write the finished run to this folder as a shipped asset")
    for name, (kind, default, text) in (finish_args or {}).items():
        ap.add_argument(f"--{name.replace('_', '-')}", dest=f"finish_{name}", type=kind, default=default, help=text)
    a = ap.parse_args(argv)
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    cfg = config_from_arguments(a, config)
    data = datasets.load(cfg.dataset) if hasattr(cfg, "dataset") else None  # None: the run makes its own data
    steps = make_steps(cfg, data)
    title, note = (data.title, data.note) if data is not None else (getattr(steps, "title", type(cfg).__name__), "")
    print(f"device: {describe(pick_device())}; data: {title}" + (f" ({note})" if note else ""), flush=True)
    snap, cpu0 = None, time.process_time()
    for rec in train(steps):
        if "snapshot" in rec.extra:
            print(rec.line(), flush=True)
            snap = rec.extra["snapshot"]()
    if snap is None:
        return {}
    cpu = time.process_time() - cpu0  # this process's CPU seconds (a shared or throttled machine inflates only wall)
    if not a.no_cache:
        path = DiskCache().put(make_key(steps.kind, steps.config), snap)  # the run's own config: the page's key
        print(f"stored in the cache: {path}", flush=True)
    if a.out:
        scores = finish(snap, data, **{n: getattr(a, f"finish_{n}") for n in finish_args or {}}) if finish else {}
        last = snap["history"][-1] if snap["history"] else {}
        module = _invoked_module(type(steps).__module__)
        prov = {"command": f"python -m {module} " + " ".join(sys.argv[1:] if argv is None else argv),
                "kind": steps.kind, "config": json.loads(json.dumps(asdict(steps.config), default=str)),
                "code_version": CODE_VERSION, "data": title, "data_note": note,
                "data_sha256": assets.fingerprint(*steps.data_arrays()),
                "train_seconds": round(snap["seconds"], 1), "train_cpu_seconds": round(cpu, 1),
                "threads": __import__("torch").get_num_threads(), "last_row": last, "scores": scores,
                "device": describe(pick_device()), "torch": __import__("torch").__version__,
                "python": platform.python_version(), "machine": platform.machine(),
                "date": time.strftime("%Y-%m-%d")}
        path = assets.save(a.out, steps.shippable(snap), prov)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB) and provenance.json", flush=True)
    return snap
