"""scikit-learn's classifiers on the conditional RBM's split: LogisticRegression on the pixels, and scikit-learn's
BernoulliRBM features + LogisticRegression (the Pipeline of scikit-learn's RBM example, fitted step by step),
as a run kind, so that the page computes them once (cached, with progress) or opens the shipped ones.

    python -m core.boltzmann.crbm_baselines                              # the page's default: the MNIST split
    python -m core.boltzmann.crbm_baselines --out assets/crbm_baselines  # the shipped default
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from core import data as datasets
from core import training
from core.progress import Stopwatch


@dataclass
class BaselineRun:
    """scikit-learn's classifiers on the same split as the CRBMs (the cache key)."""

    dataset: str = "mnist"  # see core.data.DATASETS
    n_train: int = 8000  # training examples (the first n of the training split)
    n_eval: int = 2000  # held-out examples scored
    logreg_C: float = 0.03  # inverse L2 strength of LogisticRegression on the pixels
    rbm_components: int = 100  # BernoulliRBM hidden units (scikit-learn's example: 100)
    rbm_learning_rate: float = 0.06  # BernoulliRBM step (scikit-learn's example: 0.06)
    rbm_n_iter: int = 10  # BernoulliRBM epochs (scikit-learn's example: 10)
    rbm_logreg_C: float = 6000.0  # LogisticRegression on the RBM's features (scikit-learn's example: 6000)
    seed: int = 0  # BernoulliRBM's random_state


NAMES = {"logreg": "LogisticRegression on pixels", "rbm_logreg": "BernoulliRBM features + LogisticRegression"}


class BaselineSteps(training.Steps):
    """Three units: (1) LogisticRegression on the gray pixels, (2) scikit-learn's BernoulliRBM on them, (3)
    LogisticRegression on the RBM's hidden probabilities (the Pipeline of scikit-learn's RBM example, fitted
    step by step). Snapshot: each classifier's held-out predictions ("pred") and probabilities ("proba"), its fit
    seconds ("fit_seconds", wall clock: core.progress.Stopwatch; the pipeline's are the RBM's and the regression's
    together) and the RBM's parameters ("nets" {"rbm": components, intercept_hidden, intercept_visible}): plain
    tensors, nothing pickled. No torch network and no generator of its own (scikit-learn is seeded by the run)."""

    kind = "crbm-baselines"
    asset = "crbm_baselines"  # the page's default
    x = "step"
    unit = "step"
    measure_initial = False

    def __init__(self, run: BaselineRun, data: datasets.ImageData):
        self.config, self.data = run, data

    def total(self) -> int:
        return 3

    def message(self, done: int) -> str:
        return ["starting", "logistic regression on pixels fitted", "BernoulliRBM fitted",
                "logistic regression on the RBM's features fitted"][done]

    def _arrays(self):
        run, d = self.config, self.data
        n_eval = min(int(run.n_eval), len(d.X_test))
        return d.X_train[: int(run.n_train)], d.y_train[: int(run.n_train)], d.X_test[:n_eval], d.y_test[:n_eval]

    def start(self) -> None:
        self.out: dict = {"pred": {}, "proba": {}}
        self.nets: dict = {}
        self.clock = Stopwatch()

    def restore(self, snapshot: dict) -> None:
        self.out = {k: dict(snapshot[k]) for k in ("pred", "proba")}
        self.nets = {k: dict(v) for k, v in snapshot["nets"].items()}
        self.clock = Stopwatch(snapshot["fit_seconds"])

    def _rbm(self):
        from sklearn.neural_network import BernoulliRBM

        run = self.config
        return BernoulliRBM(n_components=int(run.rbm_components), learning_rate=float(run.rbm_learning_rate),
                            n_iter=int(run.rbm_n_iter), random_state=int(run.seed))

    def advance(self, done: int) -> None:
        with threadpool_limits(limits=1, user_api="blas"):  # lbfgs' small products: 2 BLAS threads on a busy 2-core
            self._fit(done)  # machine were measured 100x slower (208 s against 2 s on the 8x8 digits)

    def _fit(self, done: int) -> None:
        from sklearn.linear_model import LogisticRegression

        run = self.config
        Xtr, ytr, Xte, _ = self._arrays()
        if done == 0:
            with self.clock("logreg"):
                proba = LogisticRegression(C=float(run.logreg_C), max_iter=2000).fit(Xtr, ytr).predict_proba(Xte)
            self._keep("logreg", proba)
        elif done == 1:
            with self.clock("rbm_logreg"):
                rbm = self._rbm().fit(Xtr)
            self.nets["rbm"] = {"components": torch.as_tensor(rbm.components_),
                                "intercept_hidden": torch.as_tensor(rbm.intercept_hidden_),
                                "intercept_visible": torch.as_tensor(rbm.intercept_visible_)}
        else:
            with self.clock("rbm_logreg"):
                rbm = self._rbm()
                rbm.components_ = self.nets["rbm"]["components"].numpy()
                rbm.intercept_hidden_ = self.nets["rbm"]["intercept_hidden"].numpy()
                rbm.intercept_visible_ = self.nets["rbm"]["intercept_visible"].numpy()
                rbm.n_features_in_ = Xtr.shape[1]
                clf = LogisticRegression(C=float(run.rbm_logreg_C), max_iter=2000).fit(rbm.transform(Xtr), ytr)
                proba = clf.predict_proba(rbm.transform(Xte))
            self._keep("rbm_logreg", proba)

    def _keep(self, name: str, proba: np.ndarray) -> None:
        self.out["proba"][name] = torch.as_tensor(proba, dtype=torch.float32)
        self.out["pred"][name] = torch.as_tensor(proba.argmax(1))

    def measure(self, done: int) -> dict[str, float]:
        yte = self._arrays()[3]
        name = {1: "logreg", 3: "rbm_logreg"}.get(done)
        if name is None:
            return {}
        return {f"{name}_error": float((self.out["pred"][name].numpy() != yte).mean()),
                f"{name}_seconds": self.clock[name]}

    def state(self) -> dict:
        return {**{k: dict(v) for k, v in self.out.items()}, "fit_seconds": self.clock.state(),
                "nets": {k: dict(v) for k, v in self.nets.items()}}

    def data_arrays(self) -> tuple:
        return self._arrays()


def baseline_errors(result: dict, y_test: np.ndarray) -> dict[str, float]:
    """{"logreg": error, "rbm_logreg": error} of a finished baseline run."""
    return {k: float((p.numpy() != np.asarray(y_test)[: len(p)]).mean()) for k, p in result["pred"].items()}


def main(argv=None):
    return training.main(BaselineSteps, BaselineRun(), argv, "Fit scikit-learn's baselines on the conditional "
                         "RBM's split; print their held-out errors.")


if __name__ == "__main__":
    main()
