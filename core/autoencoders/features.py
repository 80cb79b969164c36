"""Which learnt features make digits linearly separable: a logistic regression on raw pixels, on the top codes of
the stacked autoencoders (greedy and end to end, core.autoencoders.sae) and on the DBN's top-layer features
(core.autoencoders.stacks), each trained on the same training digits and scored on the same held-out ones.

    encoders = stack_encoders(sae.models(sae_run), stacks.dbn_rbms(dbn_run))   # {name: X -> features}
    rows = feature_errors(encoders, X_train, y_train, X_test, y_test)        # one row per set of features

The classifier is `sae.classification_error` (standardised features, multinomial logistic regression, L2 weight
1/C, a few hundred iterations): the same for every set of features, so the rows compare features, not classifiers.
A row's error is measured on the held-out digits given; with 2,000 of them its binomial standard error is about
sqrt(e (1 - e) / 2000), 0.5 points at e = 6 %.
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from core.autoencoders import sae, stacks

RAW = "raw pixels"  # the name of the identity features


def stack_encoders(nets: Mapping[str, sae.DeepAutoencoder], rbms: list | None = None) -> dict[str, Callable | None]:
    """{name: X -> features} of the page's comparison, in its order: raw pixels (None: the identity), the greedy and
    the end-to-end stacked autoencoder's top codes (`sae.codes`), and the DBN's mean-field top-layer features
    (`stacks.dbn_features`) when `rbms` is given."""
    out: dict[str, Callable | None] = {RAW: None,
                                       "stacked AE, greedy": lambda X: sae.codes(nets["greedy"], X),
                                       "stacked AE, end to end": lambda X: sae.codes(nets["e2e"], X)}
    if rbms is not None:
        out["DBN top layer"] = lambda X: stacks.dbn_features(rbms, X)
    return out


def feature_errors(encoders: Mapping[str, Callable | None], X_train, y_train, X_test, y_test, C: float = 1.0,
                   max_iter: int = 300) -> list[dict]:
    """One row {"features", "dimensions", "classification_error"} per encoder, in order: the held-out error of a
    logistic regression (`sae.classification_error`) trained on encode(X_train) and scored on encode(X_test)
    (an encoder None: the rows of X as they are)."""
    rows = []
    for name, encode in encoders.items():
        a = np.asarray(X_train if encode is None else encode(X_train))
        b = np.asarray(X_test if encode is None else encode(X_test))
        rows.append({"features": name, "dimensions": int(a.shape[1]),
                     "classification_error": sae.classification_error(a, y_train, b, y_test, C=C, max_iter=max_iter)})
    return rows
