"""Independent reference computations shared by several test files (not tests themselves)."""
import numpy as np
from scipy.optimize import linprog


def lp_cost(r, k, M):
    """The transport LP min <P, M> s.t. P 1 = r, P^T 1 = k, P >= 0, solved by scipy's HiGHS."""
    n, m = M.shape
    A = np.zeros((n + m, n * m))
    for i in range(n):
        A[i, i * m:(i + 1) * m] = 1
    for j in range(m):
        A[n + j, j::m] = 1
    res = linprog(M.ravel(), A_eq=A, b_eq=np.r_[r, k], bounds=(0, None), method="highs")
    assert res.status == 0
    return res.fun
