"""Honest yardsticks benchmark (a script, not a test):

    python tests/benchmarks/bench_yardsticks.py [--only fid|ais|cycle]

Prints, last, as `name: value` lines, the three yardsticks that compare across pages:
- Frechet distance (core.quality): see `fid_lines`.
- AIS and the conservative (reverse-annealing) side of the RBM's held-out log-likelihood: see `ais_lines`.
- The CycleGAN's joint rate per image: see `cycle_lines`.
Each section is documented in its function.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import core  # noqa: E402,F401  (first: OpenMP's wait policy before torch loads)


def fid_lines() -> dict[str, float]:
    """Frechet-distance section (core.quality: the MNIST classifier's features, N_EVAL = 1,000 images, split-half
    references, N_DRAWS = 8 draws):
    - fid_floor_train_mean, fid_floor_train_sd: the train floor's mean and sd over the draws (1,000 random images of
      one half of the 8,000 training digits against the other half's statistics); fid_floor_heldout_mean: the same
      within the 2,000 held-out digits (halves of 1,000).
    - fid_random_train_subset_minus_floor: 1,000 training digits drawn without replacement (seeds 101-105, not the
      reference's), scored like a generator, mean over the 5 seeds minus the floor; fid_memoriser_minus_floor: a
      "generator" whose every sample is a copy of a random training digit (drawn with replacement), the same way.
      Target: each within 2 sd of the floor (they share about half their images with each reference half, which
      lowers them by about 20 % of the floor); the spread of the 5 seeds is printed above the lines.
    - fid_<run>_train, fid_<run>_heldout: the shipped WGAN-GP, minimax (minimax-vs-WGAN page, all classes) and DCGAN
      (one class, the 3s: scored against that class) generators, 1,000 samples from noise seed 20,000, re-scored
      here (core.gan.latent.quality_report), against the training and the held-out references."""
    import numpy as np

    from core import data as datasets
    from core import quality
    from core.gan import config as gc
    from core.gan import latent
    from core.gan import train as gt

    data = datasets.load("mnist")
    qm = quality.quality_model(data)
    ref = qm.reference()
    floor, sd = ref["floor"], ref["floor_sd"]
    out = {"fid_floor_train_mean": floor, "fid_floor_train_sd": sd}
    subset = [qm.report(data.X_train[np.random.default_rng(100 + s).choice(len(data.X_train), quality.N_EVAL,
                                                                           replace=False)])["fid"] for s in range(1, 6)]
    memo = [qm.report(data.X_train[np.random.default_rng(200 + s).integers(0, len(data.X_train), quality.N_EVAL)])["fid"]
            for s in range(1, 6)]
    print(f"  train floor draws {np.round(ref['train']['floor_draws'], 2)}; random subsets {np.round(subset, 2)}; "
          f"memoriser {np.round(memo, 2)}; held-out floor draws {np.round(ref['heldout']['floor_draws'], 2)}; "
          f"training digits vs the held-out halves {ref['heldout_of_train']:.2f} ± {ref['heldout_of_train_sd']:.2f}",
          flush=True)
    out["fid_random_train_subset_minus_floor"] = float(np.mean(subset) - floor)
    out["fid_memoriser_minus_floor"] = float(np.mean(memo) - floor)
    out["fid_floor_heldout_mean"] = ref["heldout_floor"]
    presets = gc.presets()
    for name, key in (("wgan_gp", "compare-wgan-gp"), ("minimax", "compare-minimax"), ("dcgan", "dcgan")):
        res = gt.GANSteps(presets[key], data).shipped()
        if res is None:
            print(f"  shipped run {key} missing", flush=True)
            continue
        r = latent.quality_report(res, data, qm)
        lab = presets[key].label
        rf = qm.reference(lab if lab >= 0 else None)
        print(f"  {key}: train {r['fid']:.2f} (floor {rf['floor']:.2f} ± {rf['floor_sd']:.2f}, {r['fid_spreads']:+.1f} "
              f"sd), held-out {r['fid_heldout']:.2f} (floor {rf['heldout_floor']:.2f} ± {rf['heldout_floor_sd']:.2f}; "
              f"training digits {rf['heldout_of_train']:.2f}), logged in training {res['quality'][-1]['fid']:.2f}",
              flush=True)
        out[f"fid_{name}_train"], out[f"fid_{name}_heldout"] = r["fid"], r["fid_heldout"]
    return out


def ais_lines(threads: int = 2) -> dict[str, float]:
    """AIS and RAISE on the shipped DBM run (assets/dbm: the DBM and its comparison 500-hidden RBM), as its shipped
    scores are made (core.boltzmann.dbm.SHIPPED_BETAS = 8,000 temperatures; core.boltzmann.ais: DEFAULT_RUNS runs, a
    DEFAULT_COMPONENTS-component Bernoulli-mixture base fit to the 8,000 training digits, seed 0):
    - ais_logz_rbm_default / _double: log Z_hat of the RBM at SHIPPED_BETAS and twice as many temperatures;
      ais_ess_rbm: the effective sample size at the default;
    - rbm_heldout_ll_ais / _conservative: mean log p(v) of the 2,000 held-out digits (core.data.held_out_binary)
      with the AIS log Z_hat (errs high) and by RAISE (DEFAULT_RAISE_BETAS temperatures, errs low);
      rbm_sandwich_width: their difference;
    - ais_seconds / conservative_seconds: wall seconds of the RBM's default AIS and of RAISE, with `threads`
      threads (other work on the machine inflates them); *_cpu_seconds: the process's CPU seconds;
    - dbm_logz_default / _double: the DBM's log Z_hat at SHIPPED_BETAS and twice as many."""
    import torch

    from core import assets
    from core import data as datasets
    from core.boltzmann import dbm
    from core.boltzmann.ais import DEFAULT_RAISE_BETAS, DEFAULT_RUNS, ais_rbm, default_base
    from core.boltzmann.reverse_ais import rbm_sandwich

    torch.set_num_threads(int(threads))
    run = assets.load(dbm.ASSET_DIR)
    data = datasets.load("mnist", download=False)
    base = default_base(data.X_train[:8000])
    V = datasets.held_out_binary(data.X_test)
    rbm, m = dbm.baseline_rbm(run), dbm.model(run)
    K, R = dbm.SHIPPED_BETAS, DEFAULT_RUNS
    a1 = ais_rbm(rbm.W, rbm.b, rbm.c, base=base, betas=K, n_runs=R)
    a2 = ais_rbm(rbm.W, rbm.b, rbm.c, base=base, betas=2 * K, n_runs=R)
    sw = rbm_sandwich(rbm.W, rbm.b, rbm.c, V, base, log_z=a1.log_z, betas=DEFAULT_RAISE_BETAS)
    d1 = m.log_partition_ais(betas=K, n_runs=R, base=base)
    d2 = m.log_partition_ais(betas=2 * K, n_runs=R, base=base)
    return {"ais_logz_rbm_default": a1.log_z, "ais_logz_rbm_double": a2.log_z, "ais_ess_rbm": a1.ess,
            "rbm_heldout_ll_ais": sw["ais"], "rbm_heldout_ll_conservative": sw["conservative"],
            "rbm_sandwich_width": sw["width"], "ais_seconds": a1.seconds, "ais_cpu_seconds": a1.cpu_seconds,
            "conservative_seconds": sw["raise"]["seconds"], "conservative_cpu_seconds": sw["raise"]["cpu_seconds"],
            "dbm_logz_default": d1.log_z, "dbm_logz_double": d2.log_z, "dbm_ais_ess": d1.ess,
            "dbm_ais_seconds": d1.seconds}


def cycle_lines() -> dict[str, float]:
    """CycleGAN joint-rate section: the shipped default run (assets/gan/cyclegan, as bench_gan2 loads it), its final
    translators scored by `core.gan.cycle.final_scores` with the page's judges (`judges.classifiers`: the shipped ones)
    on the first 500 held-out MNIST digits and the 360 held-out 8x8 digits, each digit judged once:
    - cycle_joint_a2b, cycle_joint_b2a: the share that keeps its class AND looks like the target domain;
    - cycle_identity_preservation, cycle_identity_joint: the identity map (no translation) on the same digits and
      judges, both ways averaged: it keeps the class without translating, and the joint rate shows it does not.
    Also printed: each way's separate rates, and the lines' seconds."""
    import time

    from core import data as datasets
    from core.gan import cycle, domains, judges

    t = time.perf_counter()
    a, b = datasets.load("mnist"), domains.upscaled_digits()
    jd = judges.classifiers(a, b)
    res = cycle.CycleSteps(cycle.presets()["cyclegan"], a, b).shipped()
    if res is None:
        print("  cycle: the shipped default run is missing (assets/gan/cyclegan)", flush=True)
        return {}
    got = cycle.final_scores(res, jd, a, b)
    ident = judges.score_translations(judges.identity_map, judges.identity_map, jd, a, b,
                                      cycle.CycleConfig(**res["config"]["cycle"]).n_eval)
    print(f"  cycle, shipped default: keeps its class {got['preservation_ab']:.3f} / {got['preservation_ba']:.3f}, "
          f"looks like the target {got['looks_b']:.3f} / {got['looks_a']:.3f}, both {got['joint_ab']:.3f} / "
          f"{got['joint_ba']:.3f} (A -> B / B -> A; the history's last row: keeps "
          f"{res['quality'][-1]['preservation_ab']:.3f} / {res['quality'][-1]['preservation_ba']:.3f}); identity map: "
          f"keeps {ident['preservation_ab']:.3f} / {ident['preservation_ba']:.3f}, both {ident['joint_ab']:.3f} / "
          f"{ident['joint_ba']:.3f}; {time.perf_counter() - t:.1f} s", flush=True)
    return {"cycle_joint_a2b": got["joint_ab"], "cycle_joint_b2a": got["joint_ba"],
            "cycle_identity_preservation": ident["preservation"], "cycle_identity_joint": ident["joint"]}


SECTIONS = {"fid": fid_lines, "ais": ais_lines, "cycle": cycle_lines}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=sorted(SECTIONS), action="append", help="run only these sections")
    args = p.parse_args(argv)
    lines: dict[str, float] = {}
    for name in args.only or list(SECTIONS):
        lines.update(SECTIONS[name]())
    for k, v in lines.items():
        print(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}")


if __name__ == "__main__":
    main()
