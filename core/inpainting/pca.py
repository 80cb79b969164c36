"""PCA fills of a hole (scikit-learn's PCA of the training digits), two ways: the plain projection of the
incomplete image, and the least-squares fit of the components to the observed pixels only."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from core.inpainting.masks import MaskedSet, masked_mse

D_GRID = (1, 2, 3, 5, 8, 10, 15, 20, 30, 40, 50, 60, 80, 100, 150, 200, 300, 400)  # d values of the curves


class PCAInpainter:
    """Principal components of the training digits (scikit-learn), used two ways to fill a hole.

    "project": the incomplete image (gray hole included) projected on the first d components.
    "lstsq": the d coefficients that best fit the observed pixels only (least squares), read out on
    the hole. Either way the known pixels are returned exactly and the hole is clipped to [0, 1].
    """

    def __init__(self, n_components: int = 400, random_state: int | None = 0):
        self.n_components = n_components  # components kept (d can be anything from 1 to this)
        self.random_state = random_state

    def fit(self, X, y=None):
        from sklearn.decomposition import PCA

        X = np.asarray(X, dtype=np.float32)
        k = min(int(self.n_components), *X.shape)
        try:  # eigen-decomposition of the p x p covariance: fast when n_samples >> n_features
            pca = PCA(n_components=k, svd_solver="covariance_eigh", random_state=self.random_state).fit(X)
        except ValueError:  # scikit-learn < 1.5
            pca = PCA(n_components=k, svd_solver="full", random_state=self.random_state).fit(X)
        self.pca_ = pca
        self.components_ = pca.components_.astype(np.float64)  # (k, n_features), orthonormal rows
        self.mean_ = pca.mean_.astype(np.float64)  # (n_features,)
        return self

    @property
    def max_d(self) -> int:
        return self.components_.shape[0]

    def _check_d(self, d) -> int:
        if not 1 <= int(d) <= self.max_d:
            raise ValueError(f"d must be in 1..{self.max_d}, got {d}")
        return int(d)

    def project(self, X, d: int) -> np.ndarray:
        """mean + V_d^T V_d (x - mean): the plain projection of whole images on d components."""
        V = self.components_[: self._check_d(d)]
        Xc = np.asarray(X, np.float64) - self.mean_
        return (self.mean_ + (Xc @ V.T) @ V).astype(np.float32)

    def inpaint(self, X_in, mask, d: int, method: str = "project", clip: bool = True) -> np.ndarray:
        """Known pixels of X_in kept exactly; the hole from the projection or from the least-squares fit."""
        return self.inpaint_many(X_in, mask, [d], method, clip)[int(d)]

    def inpaint_many(self, X_in, mask, ds: Sequence[int], method: str = "project",
                     clip: bool = True) -> dict[int, np.ndarray]:
        """{d: inpainted images} for several d at the cost of about one (sums over components are cumulative)."""
        if method not in ("project", "lstsq"):
            raise ValueError(f"method must be 'project' or 'lstsq', got {method!r}")
        X_in = np.asarray(X_in, np.float32)
        if X_in.ndim != 2 or X_in.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"X_in must be (n, {self.mean_.shape[0]}), got {X_in.shape}")
        mask = np.broadcast_to(np.asarray(mask, bool), X_in.shape)
        ds = sorted({self._check_d(d) for d in ds})
        h = mask.sum(1)
        out = {d: X_in.copy() for d in ds}
        if len(X_in) == 0 or h.max() == 0:
            return out
        for size in np.unique(h[h > 0]):  # the patch process gives one size; other masks are grouped
            rows = np.nonzero(h == size)[0]
            holes = self._hole_values(X_in[rows], mask[rows], ds, method, int(size))
            miss = mask[rows]
            for d in ds:
                vals = np.clip(holes[d], 0.0, 1.0) if clip else holes[d]
                block = out[d][rows]
                block[miss] = vals.reshape(-1).astype(np.float32)
                out[d][rows] = block
        return out

    def _hole_values(self, X_in, mask, ds, method, h, chunk: int = 500) -> dict[int, np.ndarray]:
        """{d: (n, h) values on the hole} in row-major pixel order of each hole.

        project: mean_hole + sum_{k<d} V[k, hole] c_k with c = V (x_in - mean).
        lstsq:   minimise ||(mean + V_d^T z - x)_observed||^2. With orthonormal rows the normal
        matrix is I_d - M M^T (M = V_d on the hole, d x h); by Woodbury the hole values are
        mean_hole + rhs + (I_h - A) A^-1 rhs with A = I_h - M^T M and rhs = M^T r_d,
        r = V (x - mean) on observed pixels: h x h solves, and A, rhs are sums over components.
        Fits that are singular (d too large for the observed pixels) use the minimum-norm solution.
        """
        V = torch.from_numpy(self.components_)  # (K, p)
        mean = torch.from_numpy(self.mean_)
        K = max(ds)
        res = {d: np.empty((len(X_in), h)) for d in ds}
        for s in range(0, len(X_in), chunk):
            Mk = torch.from_numpy(mask[s:s + chunk].copy())  # (b, p)
            b = len(Mk)
            Xc = torch.from_numpy(X_in[s:s + chunk].astype(np.float64)) - mean  # (b, p)
            miss = Mk.nonzero()[:, 1].reshape(b, h)  # (b, h) hole pixel indices
            Vh = V[:K][:, miss].permute(1, 0, 2)  # (b, K, h): components on each hole
            mean_h = mean[miss]  # (b, h)
            if method == "project":
                c = Xc @ V[:K].T  # (b, K) coefficients of the whole incomplete image
                acc, k0 = mean_h.clone(), 0
                for d in ds:
                    acc += (c[:, k0:d].unsqueeze(1) @ Vh[:, k0:d]).squeeze(1)
                    res[d][s:s + b] = acc.numpy()
                    k0 = d
                continue
            r = (Xc * ~Mk) @ V[:K].T  # (b, K) = V (x - mean) on observed pixels
            A = torch.eye(h, dtype=V.dtype).repeat(b, 1, 1)  # (b, h, h) = I - M^T M
            rhs = torch.zeros(b, h, dtype=V.dtype)  # M^T r_d
            k0 = 0
            for d in ds:
                Mb = Vh[:, k0:d]  # (b, d - k0, h)
                A -= Mb.transpose(1, 2) @ Mb
                rhs += (r[:, k0:d].unsqueeze(1) @ Mb).squeeze(1)
                k0 = d
                L, info = torch.linalg.cholesky_ex(A)
                ok = info == 0
                sol = torch.cholesky_solve(rhs.unsqueeze(2), L).squeeze(2)  # A^-1 rhs (garbage where not ok)
                vals = mean_h + rhs + sol - (A @ sol.unsqueeze(2)).squeeze(2)
                bad = (~ok).nonzero().flatten()
                for i in bad.tolist():  # singular fit: minimum-norm least squares on the observed pixels
                    obs = ~Mk[i]
                    z = torch.linalg.lstsq(V[:d][:, obs].T, Xc[i, obs].unsqueeze(1), driver="gelsd").solution
                    vals[i] = mean_h[i] + (z.squeeze(1) @ V[:d][:, miss[i]])
                res[d][s:s + b] = vals.numpy()
        return res

    def mse_curve(self, ms: "MaskedSet", ds: Sequence[int], method: str = "project") -> list[float]:
        """Masked MSE of the method for each d (e.g. on held-out images)."""
        many = self.inpaint_many(ms.X_in, ms.mask, ds, method)
        return [masked_mse(many[int(d)], ms.X, ms.mask) for d in ds]
