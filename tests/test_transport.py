"""core.transport against independent computations: linear programming, the assignment solver,
a hand-written Sinkhorn loop, 1-D Wasserstein distances, and properties (marginals, mass, no NaN)."""
import numpy as np
import ot
import pytest
from scipy.optimize import linear_sum_assignment

from core.transport import interpolation as I
from core.transport import plans as T
from reference import lp_cost


def random_problem(n, m, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 2)), rng.random((m, 2))


def test_exact_plan_marginals_and_cost_match_lp(rng):
    xs, xt = random_problem(7, 9)
    M = T.cost_matrix(xs, xt)
    a, b = T.normalize(rng.random(7)), T.normalize(rng.random(9))
    P = T.exact_plan(a, b, M)
    assert np.allclose(P.sum(1), a, atol=1e-12) and np.allclose(P.sum(0), b, atol=1e-12) and (P >= 0).all()
    assert np.isclose((P * M).sum(), lp_cost(a, b, M), rtol=1e-9)


def test_uniform_exact_cost_is_the_assignment_problem():
    xs, xt = random_problem(30, 30, seed=3)
    M = T.cost_matrix(xs, xt, metric="euclidean", scale=False)
    rows, cols = linear_sum_assignment(M)
    a = np.full(30, 1 / 30)
    assert np.isclose(T.exact_cost(a, a, M), M[rows, cols].mean(), rtol=1e-10)


def test_cost_matrix_scaled_to_one_and_matches_definition():
    xs, xt = random_problem(5, 4)
    M = T.cost_matrix(xs, xt)
    raw = ((xs[:, None, :] - xt[None, :, :]) ** 2).sum(-1)
    assert np.isclose(M.max(), 1.0) and np.allclose(M, raw / raw.max())


def test_assignment_factories_and_stores():
    r = np.array([3.0, 5.0, 2.0])
    k = np.array([4.0, 4.0, 1.0, 1.0])
    M = np.array([[4, 1, 3, 7], [2, 6, 5, 1], [3, 3, 1, 2]], float)
    res = T.assignment(r, k, M)
    assert not res.notes
    assert np.allclose(res.plan.sum(1), r) and np.allclose(res.plan.sum(0), k)
    assert np.isclose(res.cost, lp_cost(r, k, M), rtol=1e-9)


def test_assignment_balances_unequal_totals_and_rejects_bad_input():
    M = np.ones((2, 2))
    res = T.assignment([1, 1], [1, 3], M)
    assert res.notes and np.isclose(res.k.sum(), 2) and np.allclose(res.plan.sum(0), [0.5, 1.5])
    for r, k, MM, word in [([1, -1], [1, 1], M, "non-negative"), ([0, 0], [1, 1], M, "positive"),
                           ([1, np.nan], [1, 1], M, "non-numeric"), ([1, 1], [1, 1], np.ones((2, 3)), "2x3"),
                           ([1, 1], [1, 1], np.array([[1, np.nan], [1, 1]]), "non-numeric")]:
        with pytest.raises(ValueError, match=word):
            T.assignment(r, k, MM)


def test_random_problem_is_balanced_whole_units():
    fx, sx, r, k = T.random_problem(4, 6, seed=5)
    assert fx.shape == (4, 2) and sx.shape == (6, 2) and r.sum() == k.sum() and (k > 0).all()
    assert np.array_equal(r, np.round(r))


def hand_sinkhorn(a, b, M, lam, iters=5000):
    """Textbook Sinkhorn-Knopp, written out independently of POT."""
    K = np.exp(-lam * M)
    u = np.ones_like(a)
    for _ in range(iters):
        v = b / (K.T @ u)
        u = a / (K @ v)
    return u[:, None] * K * v[None, :]


@pytest.mark.parametrize("lam", [0.5, 5.0, 50.0])
def test_sinkhorn_matches_hand_written_loop(lam, rng):
    xs, xt = random_problem(6, 8, seed=1)
    M = T.cost_matrix(xs, xt)
    a, b = T.normalize(rng.random(6) + 0.1), T.normalize(rng.random(8) + 0.1)
    res = T.sinkhorn(a, b, M, lam)
    P = hand_sinkhorn(a, b, M, lam)
    assert np.allclose(res.plan, P, atol=1e-9)
    assert np.isclose(res.reg, 1 / lam)
    h = -(P * np.log(P)).sum()
    assert np.isclose(res.entropy, h, rtol=1e-7)
    assert np.isclose(res.objective, (P * M).sum() - h / lam, rtol=1e-7)


def test_sinkhorn_over_the_whole_slider_no_nan_and_approaches_exact():
    xs, xt = random_problem(100, 100, seed=2)
    M = T.cost_matrix(xs, xt)
    a = np.full(100, 0.01)
    exact = T.exact_cost(a, a, M)
    M0 = M.copy()
    rows = []
    for lam in T.LAMBDAS:
        r = T.sinkhorn(a, a, M, lam)
        assert np.all(np.isfinite(r.plan)) and np.isfinite(r.cost) and np.isfinite(r.entropy)
        assert r.marginal_error < 2e-3, (lam, r.marginal_error)
        rows.append((lam, r.cost, r.entropy))
    assert np.array_equal(M, M0)  # input not mutated
    costs = np.array([c for _, c, _ in rows])
    ents = np.array([h for _, _, h in rows])
    assert np.all(np.diff(costs) <= 1e-6 * costs[0])  # cost falls as lambda grows
    assert np.all(np.diff(ents) <= 1e-6)  # and so does the entropy
    assert costs[-1] >= exact * (1 - 2e-3)  # never (meaningfully) below the optimum
    assert (costs[-1] - exact) / exact < 0.01  # within 1% at the largest lambda
    assert (costs[0] - exact) / exact > 1  # far from it at the smallest
    # smallest lambda: nearly the independent plan a b^T (maximal entropy)
    assert np.isclose(ents[0], 2 * np.log(100), rtol=1e-3)


def test_sinkhorn_falls_back_instead_of_nan():
    xs, xt = random_problem(40, 40, seed=4)
    M = T.cost_matrix(xs, xt)
    a = np.full(40, 1 / 40)
    res = T.sinkhorn(a, a, M, 1e5, method="sinkhorn")  # plain Sinkhorn underflows at this lambda
    assert np.all(np.isfinite(res.plan)) and res.method != "sinkhorn" and res.notes
    assert np.isclose(res.plan.sum(), 1, atol=1e-3)
    assert T.choose_method(M, 1.0) == "sinkhorn" and T.choose_method(M, 1e4) != "sinkhorn"
    with pytest.raises(ValueError):
        T.sinkhorn(a, a, M, 0.0)


def test_sinkhorn_sweep_rows():
    xs, xt = random_problem(20, 20)
    M = T.cost_matrix(xs, xt)
    a = np.full(20, 0.05)
    rows = T.sinkhorn_sweep(a, a, M, [1, 100])
    assert [r["lambda"] for r in rows] == [1, 100] and rows[0]["cost"] > rows[1]["cost"]
    assert T.LAMBDAS[0] == 0.1 and T.LAMBDAS[-1] == 10_000


@pytest.fixture
def two_measures():
    x = T.grid(200)
    a = T.mixture(x, T.Mixture1D((0.2, 0.5), (0.04, 0.05), (0.6, 0.4)))
    b = T.mixture(x, T.Mixture1D((0.75,), (0.08,), (1.0,)))
    return x, a, b


def test_mixture_is_a_normalised_density(two_measures):
    x, a, b = two_measures
    assert np.isclose(a.sum(), 1) and (a >= 0).all()
    assert abs((x * b).sum() - 0.75) < 1e-3  # mean of the single component


def test_displacement_interpolation_endpoints_mass_and_geodesic(two_measures):
    x, a, b = two_measures
    M = T.cost_matrix(x)
    P = T.exact_plan(a, b, M)
    P0 = P.copy()
    assert np.allclose(I.displacement_interpolation(x, P, 0.0), a, atol=1e-12)
    assert np.allclose(I.displacement_interpolation(x, P, 1.0), b, atol=1e-12)
    w_ab = ot.wasserstein_1d(x, x, a, b, p=2) ** 0.5
    for t in (0.25, 0.5, 0.8):
        mu = I.displacement_interpolation(x, P, t)
        assert np.isclose(mu.sum(), 1, atol=1e-12) and (mu >= 0).all()
        # the mean moves in a straight line ...
        assert np.isclose((x * mu).sum(), (1 - t) * (x * a).sum() + t * (x * b).sum(), atol=1e-7)
        # ... and mu_t lies on the W2 geodesic: W2(a, mu_t) = t W2(a, b) (grid rounding aside)
        assert abs(ot.wasserstein_1d(x, x, a, mu, p=2) ** 0.5 - t * w_ab) < 0.01
    assert np.array_equal(P, P0)
    # the displacement interpolant splits the way from a to b; the naive mixture takes a detour
    mu = I.displacement_interpolation(x, P, 0.5)
    mix = I.mixture_interpolation(a, b, 0.5)
    w2 = lambda p, q: ot.wasserstein_1d(x, x, p, q, p=2) ** 0.5  # noqa: E731
    assert np.isclose(mix.sum(), 1)
    assert abs(w2(a, mu) + w2(mu, b) - w_ab) < 0.01
    assert w2(a, mix) + w2(mix, b) > 1.1 * w_ab


def test_deposit_preserves_mass_and_first_moment(rng):
    x = T.grid(50)
    pos, m = rng.random(300), rng.random(300)
    out = I.deposit(pos, m, x)
    assert np.isclose(out.sum(), m.sum()) and np.isclose((out * x).sum(), (m * pos).sum())


def test_entropic_barycenter_mass_and_mean(two_measures):
    x, _, _ = two_measures
    a = T.mixture(x, T.Mixture1D((0.3,), (0.05,), (1,)))
    b = T.mixture(x, T.Mixture1D((0.7,), (0.05,), (1,)))
    M = T.cost_matrix(x)
    for lam, t in [(10, 0.5), (1000, 0.5), (1000, 0.25)]:
        bc = I.entropic_barycenter(a, b, M, t, lam)
        assert np.all(np.isfinite(bc.weights)) and np.isclose(bc.weights.sum(), 1)
        assert abs((x * bc.weights).sum() - (0.3 + 0.4 * t)) < 0.02
    # large lambda: the barycenter is a moved bump (one mode), not the two-bump mixture
    q = I.entropic_barycenter(a, b, M, 0.5, 1000).weights
    assert q[np.argmin(abs(x - 0.5))] > 5 * q[np.argmin(abs(x - 0.3))]


def test_values_parsing_and_histogram():
    v = T.parse_values("1, 2.5\n3e-1; -4  nan inf 7")
    assert np.allclose(v, [1, 2.5, 0.3, -4, 7])
    for bad in ["", "   ", "abc", "5"]:
        with pytest.raises(ValueError):
            T.parse_values(bad)
    x = T.grid(100, -5, 10)
    h = T.histogram(v, x)
    assert np.isclose(h.sum(), 1) and (h >= 0).all()
    with pytest.raises(ValueError):
        T.normalize([0, 0])
    with pytest.raises(ValueError):
        T.normalize([1, -1])


def test_piecewise_linear_drawn_measure():
    x = T.grid(101)
    w = T.piecewise_linear(x, [0.5, 0.0, 1.0], [1.0, 0.0, 0.0])  # a triangle peaking at 0.5 (unsorted knots)
    assert np.isclose(w.sum(), 1) and np.argmax(w) == 50 and np.isclose(w[25], w[50] / 2)
    assert np.isclose((x * w).sum(), 0.5)
    for knots, heights, word in [([0, 1], [0, 0], "positive"), ([0, 1], [1, -1], "non-negative"),
                                 ([0, np.nan], [1, 1], "not a number"), ([0], [1], "two")]:
        with pytest.raises(ValueError, match=word):
            T.piecewise_linear(x, knots, heights)


# ----------------------------------------------------------------------------- the numbers the pages show

def test_plan_cost_of_the_exact_plan_is_pots_emd2(rng):
    a, b = T.normalize(rng.random(9)), T.normalize(rng.random(13))
    M = T.cost_matrix(rng.random((9, 2)), rng.random((13, 2)), scale=False)
    P = T.exact_plan(a, b, M)
    assert T.plan_cost(P, M) == pytest.approx(ot.emd2(a, b, M), rel=1e-12)
    assert T.exact_cost(a, b, M) == pytest.approx(ot.emd2(a, b, M), rel=1e-12)
    want = sum(P[i, j] * M[i, j] for i in range(9) for j in range(13))  # the sum written out
    assert T.plan_cost(P, M) == pytest.approx(want, rel=1e-12)


def test_w2_on_the_line_is_the_quantile_formula():
    """The 1-D page's W2 = sqrt(<P, |x - y|^2>) with P from the scaled costs: against the closed form
    W2^2 = integral_0^1 |F_a^-1(u) - F_b^-1(u)|^2 du (quantile functions of the two discrete measures)."""
    x = np.linspace(0, 1, 60)
    a = T.normalize(np.exp(-((x - 0.3) / 0.08) ** 2) + 0.01)
    b = T.normalize(np.exp(-((x - 0.7) / 0.12) ** 2) + 0.01)
    P = T.exact_plan(a, b, T.cost_matrix(x))  # scaled costs: the same optimal plan
    w2 = np.sqrt(T.plan_cost(P, T.cost_matrix(x, scale=False)))
    ca, cb = np.cumsum(a), np.cumsum(b)
    u = np.unique(np.r_[0.0, ca, cb, 1.0].clip(0, 1))
    mid = 0.5 * (u[1:] + u[:-1])
    qa = x[np.minimum(np.searchsorted(ca, mid), len(x) - 1)]
    qb = x[np.minimum(np.searchsorted(cb, mid), len(x) - 1)]
    assert w2 == pytest.approx(np.sqrt(np.sum(np.diff(u) * (qa - qb) ** 2)), rel=1e-9)
    assert T.mean(x, a) == pytest.approx(np.average(x, weights=a), rel=1e-12)


def test_routes_used_counts_the_entries_that_carry_mass(rng):
    r, k = np.array([3.0, 5.0, 2.0]), np.array([4.0, 4.0, 1.0, 1.0])
    res = T.assignment(r, k, rng.random((3, 4)))
    count = sum(1 for v in res.plan.ravel() if v > 1e-9)  # a vertex of the polytope: at most n + m - 1
    assert T.routes_used(res.plan) == count <= 3 + 4 - 1
    assert T.routes_used(np.array([[1.0, 1e-15], [0.0, 2.0]])) == 2


def test_entropy_of_the_independent_plan_is_the_sum_of_the_marginals(rng):
    """h(a b^T) = h(a) + h(b), the largest entropy of a plan with marginals a, b (closed form, and scipy)."""
    from scipy.stats import entropy as scipy_entropy

    a, b = T.normalize(rng.random(7)), T.normalize(rng.random(5))
    assert T.entropy(np.outer(a, b)) == pytest.approx(scipy_entropy(a) + scipy_entropy(b), rel=1e-12)
    assert T.entropy(np.array([[0.5, 0.0], [0.0, 0.5]])) == pytest.approx(np.log(2), rel=1e-12)  # 0 log 0 = 0
