"""Rows of the scoreboard: one stored run of one family scored on the shared yardsticks (see core.scoreboard).

A row is a flat dict of numbers and short strings plus a few sample images. Rows of the shipped runs ship in
assets/scoreboard/ (``python -m core.scoreboard.board --out assets/scoreboard``: sampling the energy-based chains
takes minutes), each tagged with its run's cache key, so a changed run is never shown with an old row.
"""
from __future__ import annotations

import argparse
import datetime
import platform
import time
from typing import Callable, Iterable

import numpy as np
import torch

from core import CODE_VERSION, assets
from core.cache import DiskCache, make_key
from core.data import ImageData, binarize
from core.gan.latent import copy_ratio
from core.scoreboard.families import FAMILIES, Family

VERSION = 1  # bump when a row's definition changes (stored and shipped rows are then recomputed)
N_SAMPLES = 1000  # samples scored per family (the Frechet distance's N_EVAL)
SEED = 40_000  # the samples' seed: every family is scored on draws of the same seed
N_SHOWN = 16  # samples kept in a row for the picture
ASSET = "scoreboard"


def run_key(family: Family, result: dict, data: ImageData) -> str:
    """The cache key of a stored run (the key the page's training used)."""
    return make_key(result["kind"], family.steps(data, result["config"]).config)


def _populations(family: Family, data: ImageData) -> tuple[np.ndarray, np.ndarray]:
    if family.label is None:
        return data.X_train, data.X_test
    return data.X_train[data.y_train == family.label], data.X_test[data.y_test == family.label]


def row(family: Family, result: dict, data: ImageData, quality, status: str = "shipped",
        n: int = N_SAMPLES, seed: int = SEED) -> dict:
    """Score one stored run: its likelihood as the run stored it (family.likelihood), and n samples (seed) by the
    quality classifier (report: FD against training and held-out halves with floors; classes, diversity) and the
    nearest-neighbour copy ratio in pixels and in the classifier's features; parameters and training seconds."""
    t = time.process_time()
    X = np.clip(np.asarray(family.sample(result, data, n, seed), np.float32).reshape(n, -1), 0, 1)  # (n, 784)
    rep = quality.report(X, label=family.label)
    train, held = _populations(family, data)
    copy = copy_ratio(X, train, held, embed=quality.features, seed=seed)
    est = family.likelihood(result)
    prov = result.get("provenance", {})
    out = {"family": family.name, "class": family.family, "page": family.page, "status": status,
           "key": run_key(family, result, data), "version": VERSION,
           "asset_stamp": family.asset_stamp() if status == "shipped" else "", "n_samples": int(n), "seed": int(seed),
           "ll": np.nan, "ll_se": np.nan, "ll_low": np.nan, "ll_method": "not available: implicit model",
           "ll_errs": "", "ll_check": "",
           **{k: float(rep[k]) for k in ("fid", "fid_sd", "fid_floor", "fid_floor_sd", "fid_heldout",
                                         "fid_heldout_floor", "fid_heldout_floor_sd", "diversity")},
           "classes_covered": int(rep["classes_covered"]), "n_classes": 1 if family.label is not None else 10,
           "class_share": float(rep["class_hist"][family.label]) if family.label is not None else np.nan,
           "copy_pixels": copy["pixels"], "copy_features": copy["features"],
           "params": int(family.params(result)),
           "train_seconds": float(result.get(family.seconds_key, result.get("seconds", np.nan))),
           "train_cpu_seconds": float(prov.get("train_cpu_seconds") or np.nan) if family.seconds_key == "seconds"
           else np.nan,
           "score_cpu_seconds": 0.0, "note": family.note,
           "samples": torch.from_numpy((X[:N_SHOWN] * 255).round().astype(np.uint8))}
    if family.binary:  # what binarisation alone costs against grey digits: 1,000 random binarised training digits
        pick = np.random.default_rng(seed).choice(len(train), min(n, len(train)), replace=False)
        ref = quality.report(binarize(train[np.sort(pick)], seed), label=family.label)
        out["fid_binary_real"] = float(ref["fid"])
        out["note"] = (f"{family.note}; its samples are 0/1 images: 1,000 binarised real training digits score "
                       f"{ref['fid']:.1f} here, so that is its floor in practice (its copy ratio is inflated the same "
                       f"way)").lstrip("; ")
    if est is not None:
        out.update(ll=est.ll, ll_se=est.se, ll_low=est.low, ll_method=est.method, ll_errs=est.errs, ll_check=est.check)
    elif not family.implicit:
        out["ll_method"] = "not stored for this run (its page computes it)"
    out["score_cpu_seconds"] = time.process_time() - t
    return out


def stored_row(family: Family, result: dict, data: ImageData, quality, status: str, cache: DiskCache) -> dict:
    """`row`, from the disk cache when this run was scored before (keyed by its run key and VERSION)."""
    key = make_key("scoreboard-row", {"run": run_key(family, result, data), "family": family.name, "version": VERSION})
    hit = cache.get(key)
    if hit is None:
        hit = row(family, result, data, quality, status)
        cache.put(key, hit)
    return {**hit, "status": status}


def shipped_rows() -> dict[str, dict]:
    """{family name: row} of the shipped runs (assets/scoreboard), or {} when absent."""
    got = assets.load(assets.folder(ASSET))
    if got is None:
        return {}
    return {r["family"]: r for r in got["rows"]}


def usable(stored: dict | None, family: Family, data: ImageData) -> bool:
    """A shipped row fits the family's shipped run when it was made for that run's config (its cache key), from the
    run as shipped now (its provenance's stamp), under this row definition; read without loading the run."""
    cfg = family.default_config()
    if stored is None or cfg is None:
        return False
    steps = family.steps(data, cfg)
    key = make_key(steps.kind, steps.config)
    return (stored.get("key") == key and stored.get("version") == VERSION
            and stored.get("asset_stamp") == family.asset_stamp())


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def own_runs(family: Family, data: ImageData, cache: DiskCache, newest: int = 20) -> list[tuple[str, str]]:
    """[(run key, label)] of the finished runs of this family's kind in the disk cache (the `newest` files), trained
    on the same digits as its shipped run (dataset, n_train, and the class for a one-class GAN), newest first; the
    label names the settings that differ from the shipped run."""
    cfg = family.default_config()
    if cfg is None:
        return []
    kind = family.steps(data, cfg).kind
    want = _flat(cfg)
    out = []
    files = sorted(cache.root.glob(f"{kind}-*.pt"), key=lambda p: p.stat().st_mtime, reverse=True)[:newest]
    for p in files:
        r = cache.get(p.stem)
        if not isinstance(r, dict) or r.get("kind") != kind or "config" not in r:
            continue
        try:
            steps = family.steps(data, r["config"])
        except (TypeError, KeyError, ValueError):
            continue
        have = _flat(r["config"])
        same = all(have.get(k) == want.get(k) for k in ("dataset", "n_train", "label") if k in want)
        if not same or make_key(kind, steps.config) != p.stem or int(r["done"]) < steps.total() or have == want:
            continue
        diff = ", ".join(f"{k.split('.')[-1]} {have[k]}" for k in have if k in want and have[k] != want[k])
        out.append((p.stem, f"your run: {diff or 'other settings'}"))
    return out


def shipped_board(data: ImageData, quality, families: Iterable[Family] = FAMILIES,
                  callback: Callable[[int, int, str], None] | None = None) -> list[dict]:
    """Rows of every family's shipped run (computed: `row`), in FAMILIES' order; families without one are left out."""
    fams = list(families)
    out = []
    for i, f in enumerate(fams):
        if callback:
            callback(i, len(fams), f.name)
        cfg = f.default_config()
        result = f.steps(data, cfg).shipped() if cfg is not None else None
        if result is not None:
            out.append(row(f, result, data, quality, "shipped"))
    return out


def main(argv=None) -> None:
    """python -m core.scoreboard.board --out assets/scoreboard: score every shipped run and ship the rows."""
    from core import data as datasets
    from core.quality import quality_model

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--out", default=str(assets.folder(ASSET)))
    ap.add_argument("--only", nargs="*", help="family names to rescore (the others are kept from the shipped rows)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    data = datasets.load("mnist", download=False)
    quality = quality_model(data)
    old = shipped_rows() if args.only else {}
    before = (assets.load(assets.folder(ASSET)) or {}).get("provenance", {}) if args.only else {}
    fams = [f for f in FAMILIES if not args.only or f.name in args.only]
    t, c = time.perf_counter(), time.process_time()
    new = {r["family"]: r for r in shipped_board(data, quality, fams,
                                                 lambda i, n, name: print(f"[{i + 1}/{n}] {name}", flush=True))}
    rows = [new.get(f.name) or old.get(f.name) for f in FAMILIES]
    rows = [r for r in rows if r is not None]
    prov = {"command": "python -m core.scoreboard.board",  # every row; "commands": the runs that made these rows
            "code_version": CODE_VERSION, "version": VERSION, "date": datetime.datetime.now(
                datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "data_sha256": assets.fingerprint(data.X_train, data.X_test), "threads": 1,
            "seconds": round(time.perf_counter() - t, 1), "cpu_seconds": round(time.process_time() - c, 1),
            "torch": torch.__version__, "python": platform.python_version(),
            "families": [r["family"] for r in rows],
            "commands": before.get("commands", [before["command"]] if "command" in before else []) + [
                "python -m core.scoreboard.board" + (" --only " + " ".join(repr(n) for n in args.only)
                                                     if args.only else "")]}
    assets.save(args.out, {"rows": rows}, prov)
    for r in rows:
        print(f"{r['family']}: ll {r['ll']:.2f} fid {r['fid']:.2f} (floor {r['fid_floor']:.2f}) "
              f"classes {r['classes_covered']} copy {r['copy_features']:.2f} ({r['score_cpu_seconds']:.0f} CPU s)")


if __name__ == "__main__":
    main()
