"""Autoencoder lab benchmark: the VAE's importance-sampled held-out log-likelihood, the DAE chain's sample quality,
the DBN's held-out log-likelihood bound, and what each costs to train.

    python tests/benchmarks/bench_autoencoders.py            # trains every default run into a temporary folder
    python tests/benchmarks/bench_autoencoders.py --ship     # the same, written to assets/ as the shipped runs

MNIST split (8,000 train / 2,000 held out); every held-out number on core.data.held_out_binary(X_test), the digits
and binarisation of bench_likelihood.py and of the shipped DBM. Each run goes through its lab's command line
(core.training.main: the same run as the page's default, its provenance and scores), so with --ship the printed
numbers are exactly those of the shipped runs. Wall and CPU seconds (this process, all threads) and the load
average are printed for every step, since the machine may be shared. Prints its figures last, as `name: value`.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import core  # noqa: E402,F401  (first: it tunes OpenMP's spinning before torch loads)
import torch  # noqa: E402

from core import assets, training  # noqa: E402
from core.autoencoders import dae, sae, stacks, vae  # noqa: E402
from core.device import describe, pick_device  # noqa: E402

CLOCKS: dict[str, dict] = {}
ONLY: set[str] = set()


def load() -> float:
    return os.getloadavg()[0]


def timed_finish(name: str, finish):
    """The lab's finish (scoring for the provenance), timed separately from the training."""
    def run(result, data, **kw):
        t, c = time.perf_counter(), time.process_time()
        out = finish(result, data, **kw)
        CLOCKS[name] = {"score_wall": time.perf_counter() - t, "score_cpu": time.process_time() - c}
        return out
    return run


def lab(name: str, steps_cls, config, argv: list[str], out: Path, finish=None, finish_args=None) -> dict:
    """Train one default run through the lab's command line; its provenance (scores) and the clocks. A lab not in
    --only is read from its shipped run instead (it must be the default config)."""
    if name not in ONLY:
        prov = json.loads((out / "provenance.json").read_text())
        ap = argparse.ArgumentParser()
        training.add_config_arguments(ap, config)
        ap.add_argument("--threads")
        want = training.config_from_arguments(ap.parse_args(argv), config)
        if prov["config"] != json.loads(json.dumps(dataclasses.asdict(want), default=str)):
            raise SystemExit(f"{out}: the shipped run is not the default config; train it again (--only {name})")
        CLOCKS[name] = {"train_wall": float(prov["train_seconds"]),
                        "train_cpu": float(prov.get("train_cpu_seconds", float("nan"))), "score_wall": float("nan"),
                        "score_cpu": float("nan"), "load": float("nan"), "from": "provenance"}
        print(f"\n== {name}: read from {out}/provenance.json (made {prov['date']} by `{prov['command']}`)", flush=True)
        return prov
    print(f"\n== {name}: python -m {steps_cls.__module__} {' '.join(argv)} --out {out}  (load {load():.1f})", flush=True)
    t, c = time.perf_counter(), time.process_time()
    snap = training.main(steps_cls, config, argv + ["--out", str(out)], name,
                         finish=timed_finish(name, finish) if finish else None, finish_args=finish_args)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    clock = CLOCKS.setdefault(name, {"score_wall": 0.0, "score_cpu": 0.0})
    clock.update(train_wall=float(snap["seconds"]), total_wall=wall, train_cpu=cpu - clock["score_cpu"], load=load())
    prov = json.loads((out / "provenance.json").read_text())
    size = (out / assets.FILENAME).stat().st_size / 1e6
    print(f"-- {name}: trained in {clock['train_wall']:.0f} s wall / {clock['train_cpu']:.0f} s CPU, scored in "
          f"{clock['score_wall']:.0f} s wall / {clock['score_cpu']:.0f} s CPU; asset {size:.2f} MB; load now "
          f"{load():.1f}", flush=True)
    return prov


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ship", action="store_true", help="write the runs to assets/ (the shipped runs)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--k", type=int, default=5000, help="importance samples per held-out digit")
    ap.add_argument("--only", default="vae32,vae2,dae,dbn,sae",
                    help="labs to train now (comma-separated); with --ship the others are read from the shipped runs' "
                         "provenance (their scores and training times as measured when they were made)")
    a = ap.parse_args(argv)
    ONLY.update(n for n in a.only.split(",") if n)
    if not a.ship and set(ONLY) != {"vae32", "vae2", "dae", "dbn", "sae"}:
        raise SystemExit("--only needs --ship (the other labs are read from the shipped runs)")
    threads = ["--threads", str(a.threads)] if a.threads else []
    os.chdir(assets.ASSETS.parent)  # the repository: shipped runs' commands say --out assets/<lab>
    root = Path("assets") if a.ship else Path(tempfile.mkdtemp(prefix="bench-autoencoders-"))
    print(f"device: {describe(pick_device())}; torch threads {torch.get_num_threads()}; load average {load():.1f}; "
          f"writing runs to {root}")
    t0, c0 = time.perf_counter(), time.process_time()

    specs = {  # name: (Steps, default config, flags, folder, finish, finish flags)
        "vae32": (vae.VAESteps, vae.VAERun(), ["--latent", "32"], "vae_z32", vae.finish,
                  {"is_k": (int, a.k, ""), "is_n": (int, 2000, "")}),
        "vae2": (vae.VAESteps, vae.VAERun(), [], "vae_z2", vae.finish, {"is_k": (int, a.k, ""), "is_n": (int, 2000, "")}),
        "dae": (dae.DAESteps, dae.DAERun(), [], "dae", dae.finish, None),
        "dbn": (stacks.DBNSteps, stacks.DBNRun(), [], "dbn", stacks.dbn_finish,
                {"betas": (int, 14_500, ""), "runs": (int, 100, "")}),
        "sae": (sae.SAESteps, sae.SAERun(), [], "sae", None, None),
    }
    provs = {}
    for name in sorted(specs, key=lambda n: n not in ONLY):  # train first, then read the others
        steps_cls, cfg, flags, folder, fin, fin_args = specs[name]
        if name not in ONLY and not (root / folder / "provenance.json").is_file():
            print(f"\n== {name}: no shipped run in {root / folder} yet", flush=True)
            continue
        provs[name] = lab(name, steps_cls, cfg, flags + threads, root / folder, fin, fin_args)
    if len(provs) < len(specs):
        raise SystemExit("some labs have neither been trained now nor shipped: no summary")
    p32, p2, pd_, pb, ps = (provs[n] for n in ("vae32", "vae2", "dae", "dbn", "sae"))

    s32, s2 = p32["scores"], p2["scores"]
    chains = pd_["scores"]["chains_from_noise"]
    ll = pb["scores"]["log_likelihood"]
    print("\n== results (held-out nats per image on the same 2,000 binarised digits)")
    for z, s in ((32, s32), (2, s2)):
        q = s["heldout_ll_is"]
        print(f"VAE {z}-d: log p(x) by IS (k = {q['k']:,}) {q['ll']:.2f} ± {q['se_mc']:.3f} (MC) ± "
              f"{q['se_digits']:.2f} (digits), ESS {q['ess']:.0f}; ELBO {s['heldout_elbo']['elbo']:.2f} "
              f"(reconstruction {s['heldout_elbo']['recon']:.2f}, KL {s['heldout_elbo']['kl']:.2f})")
    for m, s in chains.items():
        print(f"chain of the {dae.NAMES[m]}: Frechet distance {s['fid']:.1f} (floor {s['fid_floor']:.1f}, ceiling "
              f"{s['fid_ceiling']:.1f}), classes covered {s['classes_covered']}, diversity {s['diversity']:.2f}, "
              f"classes per chain {s['classes_per_chain']:.2f}, class changes {s['class_change_rate']:.3f}")
    print(f"DBN {pb['config']['hidden1']}-{pb['config']['hidden2']}: bound {ll['dbn']['ll']:.2f} "
          f"[{ll['dbn']['ll_low']:.2f}, {ll['dbn']['ll_high']:.2f}] ± {ll['dbn']['se_mc']:.3f} (MC), ESS "
          f"{ll['dbn']['ais']['ess']:.1f}; its first layer alone {ll['rbm1']['ll']:.2f}")
    last = ps["last_row"]
    print(f"stacked autoencoders: held-out squared error greedy {last['recon_greedy']:.2f}, end to end "
          f"{last['recon_e2e']:.2f}")
    for name, c in CLOCKS.items():
        print(f"clock {name}: train {c['train_wall']:.0f} s wall / {c['train_cpu']:.0f} s CPU; scoring "
              f"{c['score_wall']:.0f} s wall / {c['score_cpu']:.0f} s CPU; load at the end {c['load']:.1f}")
    print(f"total: {time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU; load average "
          f"{load():.1f}")
    print(f"device: {describe(pick_device())}")
    print(f"vae_heldout_ll_is: {s32['heldout_ll_is']['ll']:.2f}")
    print(f"vae_heldout_elbo: {s32['heldout_elbo']['elbo']:.2f}")
    print(f"vae_train_seconds: {CLOCKS['vae32']['train_wall']:.1f}")
    print(f"vae_train_cpu_seconds: {CLOCKS['vae32']['train_cpu']:.1f}")
    print(f"vae2d_heldout_ll_is: {s2['heldout_ll_is']['ll']:.2f}")
    print(f"dae_chain_fid: {chains['dae']['fid']:.1f}")
    print(f"dae_chain_classes_covered: {chains['dae']['classes_covered']}")
    print(f"dbn_heldout_ll_bound: {ll['dbn']['ll']:.2f}")
    print(f"dbn_train_seconds: {CLOCKS['dbn']['train_wall']:.1f}")


if __name__ == "__main__":
    main()
