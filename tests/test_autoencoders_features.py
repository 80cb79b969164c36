"""core.autoencoders.features: the feature experiment (features -> logistic regression), checked against
scikit-learn run directly on features computed here by hand (NumPy sigmoid layers from the weights)."""
import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from core.autoencoders import features
from core.autoencoders.sae import DeepAutoencoder
from core.boltzmann.rbm import RBM


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _sklearn_error(a, y_a, b, y_b, C=1.0, max_iter=300):
    """The held-out error of scikit-learn's logistic regression on standardised features, written out here."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    sc = StandardScaler().fit(a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = LogisticRegression(C=C, max_iter=max_iter).fit(sc.transform(a), y_a)
    return float((clf.predict(sc.transform(b)) != y_b).mean())


@pytest.fixture(scope="module")
def problem():
    """Three noisy classes of 12-pixel 'images' in [0, 1], random stacks and a random two-RBM DBN on them."""
    g = np.random.default_rng(0)
    protos = g.random((3, 12))
    y = g.integers(0, 3, 400)
    X = np.clip(protos[y] + 0.35 * g.normal(size=(400, 12)), 0, 1).astype(np.float32)
    torch.manual_seed(0)
    nets = {"greedy": DeepAutoencoder([12, 8, 5]).eval(), "e2e": DeepAutoencoder([12, 8, 5]).eval()}
    rbms = []
    for n_v, n_h in ((12, 7), (7, 4)):
        r = RBM(n_components=n_h)
        r.components_ = g.normal(size=(n_h, n_v))
        r.intercept_hidden_ = g.normal(size=n_h)
        r.intercept_visible_ = g.normal(size=n_v)
        rbms.append(r)
    return X[:300], y[:300], X[300:], y[300:], nets, rbms


def _codes_by_hand(net, X):
    h = np.asarray(X, np.float64)
    for lin in net.enc:
        h = _sigmoid(h @ lin.weight.detach().double().numpy().T + lin.bias.detach().double().numpy())
    return h


def _dbn_by_hand(rbms, X):
    h = np.asarray(X, np.float64)
    for r in rbms:
        h = _sigmoid(h @ r.components_.astype(np.float64).T + r.intercept_hidden_)
    return h


def test_every_row_is_scikit_learns_logistic_regression_on_those_features(problem):
    Xtr, ytr, Xte, yte, nets, rbms = problem
    rows = features.feature_errors(features.stack_encoders(nets, rbms), Xtr, ytr, Xte, yte)
    assert [r["features"] for r in rows] == ["raw pixels", "stacked AE, greedy", "stacked AE, end to end",
                                             "DBN top layer"]
    by_hand = {"raw pixels": (Xtr, Xte),
               "stacked AE, greedy": (_codes_by_hand(nets["greedy"], Xtr), _codes_by_hand(nets["greedy"], Xte)),
               "stacked AE, end to end": (_codes_by_hand(nets["e2e"], Xtr), _codes_by_hand(nets["e2e"], Xte)),
               "DBN top layer": (_dbn_by_hand(rbms, Xtr), _dbn_by_hand(rbms, Xte))}
    for row in rows:
        a, b = by_hand[row["features"]]
        assert row["dimensions"] == a.shape[1]
        # float32 features vs float64 by hand: the same predictions on all but possibly a borderline digit
        assert row["classification_error"] == pytest.approx(_sklearn_error(a, ytr, b, yte), abs=1.01 / len(yte)), row
    errors = [r["classification_error"] for r in rows]
    assert len(set(errors)) > 1  # the features differ: the rows are not one number repeated


def test_raw_pixels_exactly_and_no_dbn_row_without_rbms(problem):
    Xtr, ytr, Xte, yte, nets, _ = problem
    rows = features.feature_errors(features.stack_encoders(nets), Xtr, ytr, Xte, yte, C=1e-4, max_iter=2)
    assert [r["features"] for r in rows] == ["raw pixels", "stacked AE, greedy", "stacked AE, end to end"]
    assert rows[0]["classification_error"] == _sklearn_error(Xtr, ytr, Xte, yte, C=1e-4, max_iter=2)
    assert rows[0]["dimensions"] == 12 and rows[1]["dimensions"] == rows[2]["dimensions"] == 5
