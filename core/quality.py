"""Sample quality without downloads: a small classifier trained once per dataset (cached on disk),
and, in its feature space, what the Inception-based scores measure.

- **Frechet distance** (FD, "FID" with our classifier instead of Inception) between the features of
  generated images and of a reference population, against two populations, each with its own floor:
  the **training images** (what a generator models: `fid`, `fid_floor`) and the **held-out images**
  (does it generalise to other writers: `fid_heldout`, `fid_heldout_floor`).
- **Split-half floor.** FD of a finite sample is biased upwards (even two samples of one population are
  apart), so a floor must be measured at the same sample size. For each of N_DRAWS seeded draws k, the
  population is split at random into halves A_k (the reference: mu_k, C_k) and B_k, and

      floor_k = FD(min(N_EVAL, |B_k|) random images of B_k, (mu_k, C_k)):

  what a sampler of exactly that population scores, since B_k and A_k are independent. The floor is
  reported as mean +- sd over the draws. A set X is scored the same way: the mean over k of
  FD(X_k, (mu_k, C_k)), X_k = X, or min(N_EVAL, |B_k|) random rows of X when it has more (per-class
  references have fewer than N_EVAL images in a half). So score and floor differ only in what is sampled.
- **Why not the old definitions** (measured with the MNIST classifier, N_EVAL = 1,000): the first 1,000
  held-out digits against all training statistics scored 24.9, random 1,000 held-out digits 16-20 and
  random 1,000 training digits 0.6-1.1: MNIST's split is ordered by writer, so a block is no floor, and
  held-out digits are another population. Statistics of all training digits as the reference leave no
  independent sample of that population for a floor: every training image is inside the reference, so
  "1,000 random training digits against all of them" (0.99 +- 0.31 over 8 draws) is a memoriser's score,
  not what new digits of the same kind would score. Measured here: train floor 1.50 +- 0.44, held-out
  floor 2.32 +- 0.62 (halves of 1,000); random training digits against the held-out halves 18.5 +- 2.8.
- **Memorisation.** A "generator" that returns training images shares about half of them with each
  reference half, which lowers its FD by about n/(n + |A|) of the floor (20 % at 1,000 vs 4,000). Measured:
  five random sets of 1,000 training digits average 0.25 below the floor, five memorisers (copies drawn with
  replacement) 0.31 below: within one spread. A generator that generalises perfectly scores at the floor, so
  FD cannot tell the two apart: the nearest-neighbour ratio (core.gan.latent.copy_ratio) does.
  Per class (halves of about 400 images, samples of as many) a memoriser's deficit is about half the floor.
- The **ceiling** is FD of N_EVAL uniform-noise images against the same halves: what a useless generator
  scores. `fid_scaled` = (fid - floor) / (ceiling - floor): 0 at the floor, 1 at noise.
- **Class histogram** of the classifier's predictions and the number of **classes covered** (a class
  counts when it receives at least a quarter of its fair share, 1/(4K) of the samples).
- **Diversity**: the mean pairwise feature distance of the samples divided by that of N_DIVERSITY random
  (seeded) held-out images (about 1: as varied as the data; far below 1: mode collapse).

Images are flat (n, C*H*W) or (n, C, H, W) arrays in [0, 1], in the dataset's own shape.
Per-class references are stored too, so a GAN trained on one class is compared with that class.
The classifier is a run kind (core.quality_run: progress, Stop, resume, a command line, shipped runs in
assets/quality/), cached under its run; the references under the run and REFERENCE_VERSION (recomputed in
seconds when it changes, the classifier kept).
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict

import numpy as np
import torch
import torch.nn.functional as F

from core.cache import DiskCache, make_key
from core.data import ImageData
from core.quality_run import (ClassifierConfig, QualityRun, SmallClassifier, augment,  # noqa: F401 (re-exported)
                              data_digest, finished_run, for_command_line, quality_run)

N_EVAL = 1000  # images per Frechet distance (generated, floor sample, noise ceiling): FD depends on it
N_DRAWS = 8  # split-half draws per reference: the floor's mean and sd, and the draws every score averages over
REFERENCE_VERSION = 2  # bump when the references' definition changes (1: floor = first 1,000 held-out digits)
N_DIVERSITY = 400  # images for the mean pairwise distance

def frechet_distance(mu1, cov1, mu2, cov2) -> float:
    """|mu1 - mu2|^2 + Tr(C1 + C2 - 2 (C1 C2)^{1/2}), with Tr((C1 C2)^{1/2}) computed as the sum of
    the square roots of the eigenvalues of C1^{1/2} C2 C1^{1/2} (symmetric, so stable)."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    cov1, cov2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
    w, V = np.linalg.eigh((cov1 + cov1.T) / 2)
    s1 = (V * np.sqrt(np.clip(w, 0, None))) @ V.T
    m = s1 @ cov2 @ s1
    ev = np.linalg.eigvalsh((m + m.T) / 2)
    tr_sqrt = np.sqrt(np.clip(ev, 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(cov1) + np.trace(cov2) - 2 * tr_sqrt)


def stats(F_: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    F_ = np.asarray(F_, np.float64)
    return F_.mean(0), np.cov(F_, rowvar=False)


def mean_pairwise_distance(F_: np.ndarray) -> float:
    F_ = torch.as_tensor(np.asarray(F_, np.float32))
    n = len(F_)
    if n < 2:
        return 0.0
    return float(torch.cdist(F_, F_, compute_mode="donot_use_mm_for_euclid_dist").sum() / (n * (n - 1)))


def split_half_draws(n: int, seed, n_draws: int | None = None, n_eval: int = N_EVAL) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each draw k (generator seeded by (seed, k)): a random half A_k of range(n), n // 2 indices (the reference),
    and min(n_eval, n - n // 2) random indices of the other half B_k (the floor's sample): [(A_k, S_k), ...], both
    sorted. n_draws: N_DRAWS when None."""
    out = []
    for k in range(N_DRAWS if n_draws is None else n_draws):
        rng = np.random.default_rng([*np.atleast_1d(seed).tolist(), k])
        perm = rng.permutation(n)
        half, rest = perm[: n // 2], perm[n // 2:]
        out.append((np.sort(half), np.sort(rng.choice(rest, min(n_eval, len(rest)), replace=False))))
    return out


def fd_to_halves(Fx: np.ndarray, mus: np.ndarray, covs: np.ndarray, n: int, seed) -> np.ndarray:
    """FD of features Fx (m, d) against each draw's reference statistics (mus (D, d), covs (D, d, d)): (D,). When m > n
    (the floor's sample size), draw k uses n random rows of Fx (generator seeded by (seed, k, 1)), so that a score
    has the floor's sample size."""
    out = []
    for k, (mu, cov) in enumerate(zip(mus, covs)):
        rows = Fx
        if len(Fx) > n:
            rows = Fx[np.sort(np.random.default_rng([*np.atleast_1d(seed).tolist(), k, 1]).choice(len(Fx), n, replace=False))]
        out.append(frechet_distance(*stats(rows), mu, cov))
    return np.asarray(out)


def population_reference(F_pop: np.ndarray, seed, n_draws: int | None = None, n_eval: int = N_EVAL) -> dict:
    """Split-half reference of one population's features F_pop (n, d): per draw k the statistics of the half A_k
    ("mu" (D, d), "cov" (D, d, d)) and floor_k = FD(S_k, A_k) ("floor_draws" (D,)), the sample size "n", and the
    floor's mean and sd over the draws ("floor", "floor_sd")."""
    draws = split_half_draws(len(F_pop), seed, n_draws, n_eval)
    mus, covs, floors = [], [], []
    for half, sample in draws:
        mu, cov = stats(F_pop[half])
        mus.append(mu)
        covs.append(cov)
        floors.append(frechet_distance(*stats(F_pop[sample]), mu, cov))
    floors = np.asarray(floors)
    return {"mu": np.stack(mus), "cov": np.stack(covs), "floor_draws": floors, "n": int(len(draws[0][1])),
            "floor": float(floors.mean()), "floor_sd": float(floors.std(ddof=1)) if len(floors) > 1 else 0.0}


class QualityModel:
    """The classifier of one dataset plus its reference statistics. Read-only after construction."""

    def __init__(self, state: dict):
        self.state = state
        self.shape = tuple(int(s) for s in state["shape"])
        self.classes = list(state["classes"])
        self.net = SmallClassifier(self.shape[0], len(self.classes))
        self.net.load_state_dict(state["weights"])
        self.net.eval()
        self.test_accuracy = float(state["test_accuracy"])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def _tensor(self, X) -> torch.Tensor:
        X = torch.as_tensor(np.asarray(X, np.float32))
        return X.reshape(-1, *self.shape)

    @torch.no_grad()
    def features(self, X) -> np.ndarray:
        X = self._tensor(X)
        return torch.cat([self.net.features(X[i:i + 500]) for i in range(0, len(X), 500)]).numpy()

    @torch.no_grad()
    def predict_proba(self, X) -> np.ndarray:
        return self.proba_from_features(self.features(X))

    @torch.no_grad()
    def proba_from_features(self, Fx: np.ndarray) -> np.ndarray:
        """Class probabilities from `features` output (the classifier's head only)."""
        return F.softmax(self.net.head(torch.from_numpy(Fx)), 1).numpy()

    def reference(self, label: int | None = None) -> dict:
        """Reference of all classes (label None) or of one class: "train" and "heldout" (population_reference:
        per-draw half statistics, floor draws, floor mean and sd, sample size "n"), "floor", "floor_sd",
        "ceiling" (training halves), "heldout_floor", "heldout_floor_sd", "heldout_ceiling", "heldout_of_train"
        and "heldout_of_train_sd" (random training images scored against the held-out halves: how far the two
        populations are apart), "diversity" (mean pairwise distance of N_DIVERSITY random held-out images) and
        "diversity_index" (their rows in the held-out split), "mu", "cov" (all training images)."""
        ref = self.state["refs"]["all" if label is None or label < 0 else str(int(label))]

        def arr(v):
            if isinstance(v, dict):
                return {k: arr(x) for k, x in v.items()}
            return v.numpy() if isinstance(v, torch.Tensor) else v
        return arr(ref)

    def frechet(self, Fx: np.ndarray, label: int | None = None, population: str = "train") -> np.ndarray:
        """FD of features Fx against each split-half draw of the reference population ("train" or "heldout"):
        (N_DRAWS,), computed exactly as the floor's draws (fd_to_halves)."""
        ref = self.reference(label)[population]
        return fd_to_halves(Fx, ref["mu"], ref["cov"], int(ref["n"]), self.state.get("seed", 0))

    def report(self, X, label: int | None = None) -> dict:
        """Scores of images X (in [0, 1], the dataset's shape): "fid" (mean over the draws against the training
        halves) with "fid_sd" (sd over the draws), "fid_floor", "fid_floor_sd", "fid_ceiling", "fid_scaled"
        ((fid - floor) / (ceiling - floor)), "fid_spreads" ((fid - floor) / floor sd), the same against the held-out
        halves ("fid_heldout", "fid_heldout_floor", "fid_heldout_floor_sd", "fid_heldout_of_train", its sd), "fid_n"
        (the images per draw: the floor's sample size when X has as many), and
        "classes_covered", "class_hist", "diversity", "confidence", "n"."""
        X = np.asarray(X, np.float32).reshape(len(X), -1)
        ref = self.reference(label)
        Fx = self.features(X)
        tr, he = self.frechet(Fx, label, "train"), self.frechet(Fx, label, "heldout")
        fd, floor, sd, ceil = float(tr.mean()), float(ref["floor"]), float(ref["floor_sd"]), float(ref["ceiling"])
        P = self.proba_from_features(Fx)  # the features are computed once for all scores
        hist = np.bincount(P.argmax(1), minlength=self.n_classes) / max(1, len(X))
        covered = int((hist >= 1.0 / (4 * self.n_classes)).sum())
        div = mean_pairwise_distance(Fx[:N_DIVERSITY]) / max(1e-12, ref["diversity"])
        return {"fid": fd, "fid_sd": float(tr.std(ddof=1)), "fid_floor": floor, "fid_floor_sd": sd,
                "fid_n": int(min(len(X), ref["train"]["n"])),
                "fid_ceiling": ceil, "fid_scaled": (fd - floor) / max(1e-12, ceil - floor),
                "fid_spreads": (fd - floor) / max(1e-12, sd), "fid_heldout": float(he.mean()),
                "fid_heldout_floor": float(ref["heldout_floor"]), "fid_heldout_floor_sd": float(ref["heldout_floor_sd"]),
                "fid_heldout_of_train": float(ref["heldout_of_train"]),
                "fid_heldout_of_train_sd": float(ref["heldout_of_train_sd"]),
                "classes_covered": covered, "class_hist": hist.astype(np.float64), "diversity": div,
                "confidence": float(P.max(1).mean()), "n": len(X)}


def references(model: QualityModel, data: ImageData, seed: int) -> dict:
    """The reference statistics of a trained classifier (its features) on `data` ({"all" or a class: ...}, what
    QualityModel.reference returns): split-half references (population_reference) of the training and of the
    held-out features, the noise ceilings, random training images against the held-out halves, the diversity of
    N_DIVERSITY random held-out images; every draw seeded by `seed` (the classifier's)."""
    rng = np.random.default_rng(seed)
    Ftr, Fte = model.features(data.X_train), model.features(data.X_test)
    Fno = model.features(rng.random((N_EVAL, data.n_features), dtype=np.float32))
    refs = {}
    labels = [None] + sorted(set(int(c) for c in np.unique(data.y_train)))
    for lab in labels:
        tr = np.arange(len(Ftr)) if lab is None else np.flatnonzero(data.y_train == lab)
        te = np.arange(len(Fte)) if lab is None else np.flatnonzero(data.y_test == lab)
        if len(tr) < 4 or len(te) < 4:
            continue
        r_seed = [seed, 0 if lab is None else lab + 1]
        train = population_reference(Ftr[tr], [*r_seed, 0])
        held = population_reference(Fte[te], [*r_seed, 1])
        # random training images (the train floor's sample size) against the held-out halves, one set per draw
        cross = [fd_to_halves(Ftr[tr][np.random.default_rng([*r_seed, 2, k]).choice(len(tr), min(N_EVAL, len(tr)),
                                                                                   replace=False)],
                              held["mu"][k:k + 1], held["cov"][k:k + 1], held["n"], [seed, k])[0]
                 for k in range(len(held["floor_draws"]))]
        div_index = np.sort(np.random.default_rng([*r_seed, 3]).choice(len(te), min(N_DIVERSITY, len(te)),
                                                                        replace=False))
        mu, cov = stats(Ftr[tr])
        refs["all" if lab is None else str(lab)] = {
            "mu": mu, "cov": cov, "train": train, "heldout": held,
            "floor": train["floor"], "floor_sd": train["floor_sd"], "n_floor": train["n"],
            "ceiling": float(fd_to_halves(Fno, train["mu"], train["cov"], train["n"], seed).mean()),
            "heldout_floor": held["floor"], "heldout_floor_sd": held["floor_sd"],
            "heldout_ceiling": float(fd_to_halves(Fno, held["mu"], held["cov"], held["n"], seed).mean()),
            "heldout_of_train": float(np.mean(cross)), "heldout_of_train_sd": float(np.std(cross, ddof=1)),
            "diversity": mean_pairwise_distance(Fte[te][div_index]), "diversity_index": te[div_index]}
    return refs


def classifier(result: dict) -> QualityModel:
    """The classifier of a (finished) core.quality_run run, in eval mode, with its last held-out accuracy; no
    reference statistics (enough to read images: `quality_model` adds them)."""
    rows = [r for r in result.get("history", []) if "test_accuracy" in r]
    return QualityModel({"weights": result["nets"]["classifier"], "shape": result["shape"],
                         "classes": result["classes"], "test_accuracy": rows[-1]["test_accuracy"] if rows else np.nan})


def quality_model(data: ImageData, cfg: ClassifierConfig | None = None, cache: DiskCache | None = None) -> QualityModel:
    """The dataset's QualityModel: the classifier of the finished run core.quality_run.quality_run(data, cfg) (the
    disk cache, else the run shipped with the app, else trained now: core.quality_run.finished_run) with its
    reference statistics (`references`: from the disk cache under the run, its weights and REFERENCE_VERSION, else
    computed in seconds and cached; a new REFERENCE_VERSION recomputes them and keeps the classifier)."""
    cfg = cfg or ClassifierConfig()
    cache = cache or DiskCache()
    model = classifier(finished_run(data, cfg, cache))
    h = hashlib.sha256()  # the weights too: a shipped (float16) and a trained classifier of one run differ slightly
    for w in model.state["weights"].values():
        h.update(w.numpy().tobytes())
    key = make_key("quality-references", {"run": asdict(quality_run(data, cfg)), "weights": h.hexdigest()[:16],
                                          "version": REFERENCE_VERSION})
    refs = cache.get(key)
    if refs is None:
        computed = references(model, data, cfg.seed)
        cache.put(key, computed)
        refs = cache.get(key) or computed
    return QualityModel({**model.state, "refs": refs, "seed": cfg.seed})


def finish(result: dict, data: ImageData) -> dict:
    """Scores of a finished run for its provenance, with the weights as shipped (rounded to float16): the held-out
    accuracy and the split-half floors of all classes (core.quality.references)."""
    run = result["config"]
    steps = for_command_line(QualityRun(run["dataset"], run["n_train"], run["digest"],
                                        ClassifierConfig(**run["classifier"])), data)  # the images it saw
    shipped = {**result, "nets": {"classifier": {k: v.half().float() for k, v in result["nets"]["classifier"].items()}}}
    model = classifier(shipped)
    ref = references(model, steps.data, int(run["classifier"]["seed"]))["all"]
    acc = float((model.predict_proba(steps.data.X_test).argmax(1) == steps.data.y_test).mean())
    return {"test_accuracy_float16": acc, **{k: ref[k] for k in ("floor", "floor_sd", "ceiling", "heldout_floor",
                                                                 "heldout_floor_sd", "heldout_of_train")},
            "note": "the shipped (float16) weights: held-out accuracy and the reference statistics of all classes "
                    "(core.quality.references), as a page computes them"}


def main(argv=None):
    """python -m core.quality --dataset mnist --out assets/quality/mnist: a quality run (core.quality_run) from the
    command line, every QualityRun field a flag (core.training.main)."""
    from core import training

    return training.main(for_command_line, QualityRun(), argv,
                         "Train the quality classifier of a dataset (core.quality) and store it under the pages' "
                         "cache key; with --out write it as a shipped run (float16) with its provenance and its "
                         "reference floors.", finish=finish)


if __name__ == "__main__":
    main()
