"""Colour transfer between two images by optimal transport of their colour distributions.

A picture's colours are a cloud of points in the RGB cube. Optimal transport (POT) moves the
source cloud onto the target cloud at least total squared colour change: it is fitted on a
random sample of pixels (the plan is n x n), each sample colour goes to the barycentre of the
target colours it is sent to, and every pixel of the image then moves like its nearest sample
colour. For contrast: naive pixel swaps (the target's own pixels put in the source's places) and a
per-channel histogram match (1-D transport of R, G and B separately, ignoring their correlations).

Images are uint8 arrays (H, W, 3); pixels are float64 rows (N, 3) in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import ot
from scipy.spatial import cKDTree

from core.transport import plans

# --------------------------------------------------------------------------------------------
# Pixels
# --------------------------------------------------------------------------------------------


def sample_image(name: str = "china.jpg") -> np.ndarray:
    """One of scikit-learn's bundled photos ('china.jpg', 'flower.jpg'), uint8 (427, 640, 3)."""
    from sklearn.datasets import load_sample_image

    return np.ascontiguousarray(load_sample_image(name))


def check_image(img) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8 or img.shape[0] * img.shape[1] == 0:
        raise ValueError("expected a non-empty uint8 RGB image of shape (H, W, 3)")
    return img


def to_pixels(img) -> np.ndarray:
    """uint8 (H, W, 3) -> float64 (H*W, 3) in [0, 1]."""
    return check_image(img).reshape(-1, 3).astype(np.float64) / 255.0


def to_image(X, shape) -> np.ndarray:
    """float (H*W, 3) in [0, 1] -> uint8 (H, W, 3) (clipped, rounded)."""
    return (np.clip(np.asarray(X), 0, 1).reshape(shape[0], shape[1], 3) * 255 + 0.5).astype(np.uint8)


def sample_pixels(X: np.ndarray, n: int, random_state: int = 0) -> np.ndarray:
    """n pixels drawn at random (without replacement when there are enough)."""
    rng = np.random.default_rng(random_state)
    idx = rng.choice(len(X), size=n, replace=len(X) < n)
    return X[idx]


def resize(img: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize to (H, W) with a good filter (PIL)."""
    from PIL import Image

    if img.shape[:2] == tuple(shape):
        return img
    return np.asarray(Image.fromarray(img).resize((shape[1], shape[0]), Image.Resampling.LANCZOS))


# --------------------------------------------------------------------------------------------
# Optimal-transport colour transfer
# --------------------------------------------------------------------------------------------


MAX_LAMBDA = plans.PLAIN_MAX_RATIO  # 200: colour Sinkhorn stays in plain Sinkhorn's safe range (max(M) * lambda <= 200): on
# 1000 x 1000 colour plans POT's log-stabilised solver was measured to stall (100 s, mass lost).


@dataclass
class ColorTransfer:
    """Move a source image's colours onto a target image's colour distribution.

    method "emd": exact OT (ot.emd); "sinkhorn": entropic OT with reg = 1/lam (core.plans.sinkhorn,
    on costs scaled to a maximum of 1, lam <= MAX_LAMBDA). Fitted on n_samples pixels of each image."""
    method: str = "emd"  # "emd" (exact) or "sinkhorn" (entropic)
    n_samples: int = 1000  # pixels sampled from each image to fit the plan (plan is n x n)
    lam: float = 100.0  # Sinkhorn's lambda (POT reg = 1 / lam); ignored by "emd"
    random_state: int = 0  # seeds the pixel samples

    def fit(self, source_pixels: np.ndarray, target_pixels: np.ndarray) -> "ColorTransfer":
        if self.method not in ("emd", "sinkhorn"):
            raise ValueError(f"unknown method {self.method!r}")
        if self.method == "sinkhorn" and not (0 < self.lam <= MAX_LAMBDA):
            raise ValueError(f"colour Sinkhorn needs 0 < lambda <= {MAX_LAMBDA:g} (use exact OT beyond)")
        self.xs_ = sample_pixels(source_pixels, self.n_samples, self.random_state)  # (n, 3)
        self.xt_ = sample_pixels(target_pixels, self.n_samples, self.random_state + 1)  # (n, 3)
        a = np.full(len(self.xs_), 1.0 / len(self.xs_))
        b = np.full(len(self.xt_), 1.0 / len(self.xt_))
        M = ot.dist(self.xs_, self.xt_)  # squared Euclidean colour distances, (n, n)
        self.info_ = {}
        if self.method == "emd":
            self.plan_ = plans.exact_plan(a, b, M)
        else:
            res = plans.sinkhorn(a, b, M / M.max(), self.lam)
            self.plan_ = res.plan
            self.info_ = {"solver": res.solver, "iterations": res.iterations, "converged": res.converged,
                          "notes": res.notes}
        self.cost_ = plans.plan_cost(self.plan_, M)
        rows = self.plan_.sum(1, keepdims=True)
        # barycentric map: where each sample colour goes (the mean of the target colours it is sent to)
        self.mapped_ = (self.plan_ @ self.xt_) / np.maximum(rows, 1e-300)  # (n, 3)
        self.tree_ = cKDTree(self.xs_)
        return self

    def transform(self, pixels: np.ndarray, neighbours: int = 8) -> np.ndarray:
        """Every pixel moves like its nearest sample colours: x + sum_s w_s (T(x_s) - x_s), with
        inverse-squared-distance weights over the `neighbours` nearest samples (Shepard
        interpolation: a sample colour itself moves exactly to T(x_s), and smooth gradients stay
        smooth instead of breaking into bands). Returns (N, 3) in [0, 1]."""
        X = np.asarray(pixels, dtype=np.float64)
        # identical colours share one nearest-neighbour query (photos repeat colours a lot)
        codes = np.round(X * 255).astype(np.int64) @ np.array([65536, 256, 1])
        _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
        U = X[first]
        k = max(1, min(int(neighbours), len(self.xs_)))
        d, nn = self.tree_.query(U, k=k)
        d, nn = d.reshape(len(U), k), nn.reshape(len(U), k)
        w = 1.0 / (d ** 2 + 1e-12)
        w /= w.sum(1, keepdims=True)
        shift = self.mapped_ - self.xs_  # (n, 3) displacement of each sample colour
        out = U + np.einsum("ik,ikc->ic", w, shift[nn])
        return np.clip(out[inverse.ravel()], 0.0, 1.0)


def transfer(source: np.ndarray, target: np.ndarray, method: str = "emd", n_samples: int = 1000,
             lam: float = 100.0, random_state: int = 0) -> tuple[np.ndarray, ColorTransfer]:
    """The source image recoloured with the target's colours (uint8, source's shape) and the fitted model."""
    S = to_pixels(source)
    ct = ColorTransfer(method, n_samples, lam, random_state).fit(S, to_pixels(target))
    return to_image(ct.transform(S), source.shape), ct


# --------------------------------------------------------------------------------------------
# Naive alternatives
# --------------------------------------------------------------------------------------------


def luminance(X: np.ndarray) -> np.ndarray:
    return X @ np.array([0.299, 0.587, 0.114])


def pixel_swap(source: np.ndarray, target: np.ndarray, order: str = "random",
               random_state: int = 0) -> np.ndarray:
    """The target's own pixels put into the source's places (the target is first resized to the
    source's size, so both have equally many pixels).

    order "position": pixel (i, j) of the target goes to (i, j): simply the target picture.
    order "random": a random one-to-one swap: the target's colour histogram exactly, no structure.
    order "brightness": the k-th darkest source pixel gets the k-th darkest target pixel: the
    target's histogram exactly, with the source's light and shade but arbitrary hues."""
    check_image(source)
    T = to_pixels(resize(check_image(target), source.shape[:2]))
    if order == "position":
        out = T
    elif order == "random":
        out = T[np.random.default_rng(random_state).permutation(len(T))]
    elif order == "brightness":
        S = to_pixels(source)
        out = np.empty_like(T)
        out[np.argsort(luminance(S), kind="stable")] = T[np.argsort(luminance(T), kind="stable")]
    else:
        raise ValueError(f"unknown order {order!r}")
    return to_image(out, source.shape)


def histogram_match(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-channel histogram matching: each channel's levels are mapped through the target's
    quantile function (1-D optimal transport of R, G and B separately)."""
    src, tgt = check_image(source), check_image(target)
    out = np.empty_like(src)
    for c in range(3):
        ps = np.bincount(src[..., c].ravel(), minlength=256) / src[..., c].size
        ct = np.cumsum(np.bincount(tgt[..., c].ravel(), minlength=256)) / tgt[..., c].size
        mid = np.cumsum(ps) - ps / 2  # the middle rank of each source level ...
        lut = np.searchsorted(ct, mid - 1e-12, side="left")  # ... goes to the target level at that rank
        out[..., c] = np.clip(lut, 0, 255).astype(np.uint8)[src[..., c]]
    return out


# --------------------------------------------------------------------------------------------
# Measuring colour distributions
# --------------------------------------------------------------------------------------------


def color_histogram(img: np.ndarray, bins: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """An image's colour distribution, from every pixel: the RGB cube cut into bins^3 cells; each
    occupied cell is one point at the mean colour of its pixels (grey levels 0-255), weighted by
    its share of the pixels. Returns (points (k, 3), weights (k,))."""
    img = check_image(img)
    P = img.reshape(-1, 3)
    codes = (P.astype(np.int64) * bins // 256) @ np.array([bins * bins, bins, 1])
    _, inverse, counts = np.unique(codes, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    sums = np.zeros((len(counts), 3))
    np.add.at(sums, inverse, P.astype(np.float64))
    return sums / counts[:, None], counts / counts.sum()


def color_distance(a: np.ndarray, b: np.ndarray, bins: int = 12) -> float:
    """2-Wasserstein distance between two images' colour distributions, in grey levels (0-255):
    exact OT (plans.exact_cost) between their colour histograms (`color_histogram`), so every pixel counts
    and the number is deterministic. Colour differences inside one cell (256/bins levels wide) are
    only seen through the cell's mean colour."""
    return _w2(color_histogram(a, bins), color_histogram(b, bins))


def _w2(ha: tuple[np.ndarray, np.ndarray], hb: tuple[np.ndarray, np.ndarray]) -> float:
    """W2 between two (cell colours, weights) histograms, in grey levels."""
    (xa, wa), (xb, wb) = ha, hb
    return float(np.sqrt(max(plans.exact_cost(wa, wb, ot.dist(xa, xb)), 0.0)))


def channel_histograms(img: np.ndarray, bins: int = 64) -> np.ndarray:
    """(3, bins) fraction of pixels per level bin, for R, G, B."""
    img = check_image(img)
    edges = np.linspace(0, 256, bins + 1)
    return np.stack([np.histogram(img[..., c], bins=edges)[0] / img[..., c].size for c in range(3)])


@dataclass
class TransferSet:
    """Every recolouring of `source` towards `target` that the page shows, plus distances."""
    images: dict[str, np.ndarray]  # method label -> uint8 image (source's shape)
    distances: dict[str, float]  # method label -> W2 to the target's colours (grey levels)
    info: dict = field(default_factory=dict)


METHODS = {"emd": "Exact OT", "sinkhorn": "Sinkhorn OT", "swap_random": "Random pixel swap",
           "swap_brightness": "Brightness-ranked pixel swap", "hist": "Per-channel histogram match"}


def all_transfers(source: np.ndarray, target: np.ndarray, n_samples: int = 1000, lam: float = 100.0,
                  random_state: int = 0) -> TransferSet:
    """Source recoloured by every method, with the W2 distance of each result to the target."""
    emd_img, emd = transfer(source, target, "emd", n_samples, lam, random_state)
    sk_img, sk = transfer(source, target, "sinkhorn", n_samples, lam, random_state)
    images = {"emd": emd_img, "sinkhorn": sk_img,
              "swap_random": pixel_swap(source, target, "random", random_state),
              "swap_brightness": pixel_swap(source, target, "brightness"),
              "hist": histogram_match(source, target)}
    ht = color_histogram(target)  # the target's histogram once, for all six distances
    dist = {k: _w2(color_histogram(v), ht) for k, v in {"source": source, **images}.items()}
    return TransferSet(images, dist, {"sinkhorn": sk.info_, "emd_cost": emd.cost_, "sinkhorn_cost": sk.cost_})
