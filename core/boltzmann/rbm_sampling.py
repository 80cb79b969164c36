"""What a trained `core.boltzmann.rbm.RBM` computes beyond scikit-learn's transform and score_samples (a mixin
of the RBM): Gibbs chains (`gibbs`, `reconstruct`, `reconstruct_many`, `inpaint` with the known pixels clamped),
the negative phase of an update (`negative_samples`, `negative_particles`, `free_energy_objective`), energies
(`energy`, `free_energy`), likelihoods (`pseudo_log_likelihood`; exact `log_likelihood` and `log_partition` for
small layers) and the live metrics of a training run (`monitor_set`, `metrics`).

Every sampler takes random_state: None draws from the RBM's own generator (training's), an int from a fresh
generator seeded by it, so that a shared model is sampled without changing it.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from core.boltzmann.likelihood import (
    can_enumerate,
    exact_log_likelihood,
    log_partition_exact,
)


class RBMSampling:
    """Sampling, reconstruction, energies and likelihoods of a fitted RBM; mixed into `core.boltzmann.rbm.RBM`."""

    def _sample(self, P: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
        """A Bernoulli(P) sample as 0/1 floats."""
        return self._bernoulli_into(torch.empty_like(P), P, gen)

    @torch.no_grad()
    def gibbs(self, V, random_state=None) -> np.ndarray:
        """One Gibbs step v -> h ~ P(h|v) -> v' ~ P(v|h); returns the sampled v' as 0/1 floats."""
        self._check_fitted()
        g = self._rng(random_state)
        H = self._sample(self._mean_hiddens(self._tensor(V, "V")), g)
        return self._sample(self._mean_visibles(H), g).cpu().numpy()

    @torch.no_grad()
    def free_energy(self, V) -> np.ndarray:
        """F(v) for each row; lower means more probable (p(v) = exp(-F(v)) / Z)."""
        self._check_fitted()
        return self._free_energy(self._tensor(V, "V")).cpu().numpy()

    @torch.no_grad()
    def energy(self, V, H) -> np.ndarray:
        """E(v, h) = -b.v - c.h - h.W.v for each row of V (n, n_v) with the same row of H (n, n_h), in float64."""
        self._check_fitted()
        V, H = np.atleast_2d(np.asarray(V, dtype=np.float64)), np.atleast_2d(np.asarray(H, dtype=np.float64))
        W, b, c = (t.detach().cpu().double().numpy() for t in (self.W, self.b, self.c))
        return -(V @ b) - H @ c - np.einsum("ni,ij,nj->n", H, W, V)

    @torch.no_grad()
    def negative_samples(self, V, random_state=0) -> np.ndarray:
        """Visible samples v^ of the negative phase an update on the mini-batch V would use, one per row of V, drawn
        with a local generator (the model is untouched): CD-k: k Gibbs steps from each row of V; PCD/FPCD: k Gibbs
        steps from the persistent chains' hidden states (chain i % n_chains for row i; under the regular plus fast
        weights for FPCD). Returns the last sampled v (0/1 floats), (n, n_v)."""
        self._check_fitted()
        g = self._rng(random_state)
        V = self._tensor(V, "V")
        P = self._P + (self._fast if getattr(self, "_fast", None) is not None else 0.0)
        W, b, c = P[:-1, :-1], P[-1, :-1], P[:-1, -1]
        if self.method == "cd":
            H = self._sample(torch.sigmoid(torch.addmm(c, V, W.T)), g)
        else:
            H = self._chains[torch.arange(len(V), device=V.device) % self._chains.shape[0], :-1]
        for step in range(int(self.k)):
            Vs = self._sample(torch.sigmoid(torch.addmm(b, H, W)), g)
            if step < int(self.k) - 1:
                H = self._sample(torch.sigmoid(torch.addmm(c, Vs, W.T)), g)
        return Vs.cpu().numpy()

    @torch.no_grad()
    def free_energy_objective(self, V, random_state=0) -> dict[str, float]:
        """The CD/PCD training objective on the rows V: mean F(v) - mean F(v^), v^ = negative_samples(V) (held fixed,
        its gradient is minus the update's direction). {"objective", "se": its Monte-Carlo standard error from the
        spread of F(v^) over the samples}. Lower: the model puts the data below its own samples in free energy."""
        V = self._tensor(V, "V")
        Fd = self._free_energy(V).double()
        Fn = self._free_energy(self._tensor(self.negative_samples(V, random_state))).double()
        se = float(Fn.std() / math.sqrt(len(Fn))) if len(Fn) > 1 else 0.0
        return {"objective": float(Fd.mean() - Fn.mean()), "se": se}

    @torch.no_grad()
    def pseudo_log_likelihood(self, X, chunk: int = 64) -> np.ndarray:
        """score_samples averaged over every bit instead of one random bit (its exact expectation):
        sum_i log sigm(F(v with bit i flipped) - F(v)), per row. Deterministic, n_v times the work."""
        self._check_fitted()
        V = self._tensor(X)
        out = []
        for s in range(0, V.shape[0], chunk):
            v = V[s: s + chunk]  # (m, n_v)
            pre = torch.addmm(self.c, v, self.W.T)  # (m, n_h)
            delta = 1 - 2 * v  # (m, n_v): change of bit i when flipped
            pre_flip = pre[:, None, :] + delta[:, :, None] * self.W.T[None]  # (m, n_v, n_h)
            dF = -(delta * self.b) - (F.softplus(pre_flip).sum(-1) - F.softplus(pre).sum(-1)[:, None])  # F(v~) - F(v)
            out.append(F.logsigmoid(dF).sum(1))
        return torch.cat(out).cpu().numpy()

    @torch.no_grad()
    def reconstruct(self, V, k: int = 1, sample_last: bool = False, random_state=None) -> np.ndarray:
        """Run k Gibbs steps from V; return P(v=1|h) of the last step (or a sample)."""
        self._check_fitted()
        g = self._rng(random_state)
        V = self._tensor(V, "V")
        for step in range(int(k)):
            Pv = self._mean_visibles(self._sample(self._mean_hiddens(V), g))
            V = self._sample(Pv, g) if (step < k - 1 or sample_last) else Pv
        return V.cpu().numpy()

    @torch.no_grad()
    def reconstruct_many(self, V, ks, random_state=None) -> dict[int, np.ndarray]:
        """{k: reconstruct(V, k)} for increasing ks along one chain (one pass of max(ks) steps)."""
        self._check_fitted()
        g = self._rng(random_state)
        ks = sorted({int(k) for k in ks})
        out, Vs = {}, self._tensor(V, "V")
        for step in range(1, ks[-1] + 1):
            Pv = self._mean_visibles(self._sample(self._mean_hiddens(Vs), g))
            if step in ks:
                out[step] = Pv.cpu().numpy()
            Vs = self._sample(Pv, g)
        return out

    @torch.no_grad()
    def inpaint(self, V, mask, k: int = 100, init: str = "noise", random_state=None) -> np.ndarray:
        """Fill the pixels where mask is True by Gibbs sampling with the others clamped.

        Returns an array equal to V on known pixels (exactly) and P(v=1|h) on missing ones after
        k steps. mask: bool array broadcastable to V, True = missing.
        """
        self._check_fitted()
        V0 = self._tensor(V, "V")
        M = torch.as_tensor(np.broadcast_to(np.asarray(mask, dtype=bool), tuple(V0.shape)).copy(), device=V0.device)
        g = self._rng(random_state)
        X = V0.clone()
        if init == "noise":
            X[M] = torch.rand(int(M.sum()), generator=g, device=V0.device)
        else:
            X[M] = 0.5
        Pv = X
        for _ in range(int(k)):
            Pv = self._mean_visibles(self._sample(self._mean_hiddens(X), g))
            X = torch.where(M, self._sample(Pv, g), V0)
        out = torch.where(M, Pv, V0) if k > 0 else X
        return out.cpu().numpy()

    @torch.no_grad()
    def log_likelihood(self, V, log_z: float | None = None) -> np.ndarray:
        """Exact log p(v) in nats (binary V) by enumerating the smaller layer; small models only."""
        self._check_fitted()
        return exact_log_likelihood(self._tensor(V, "V").double().cpu(), self.W.cpu(), self.b.cpu(),
                                    self.c.cpu(), log_z).numpy()

    @torch.no_grad()
    def log_partition(self) -> float:
        self._check_fitted()
        return log_partition_exact(self.W, self.b, self.c)

    def _rng(self, random_state) -> torch.Generator:
        """The training generator, or a fresh one seeded by random_state (leaves the model untouched)."""
        if random_state is None:
            return self._gen
        return torch.Generator(device=self._P.device).manual_seed(int(random_state))

    def _eval_tensors(self, X, X_val, n_eval: int, seed: int = 0) -> dict:
        """Fixed subsets (and a fixed binarisation for log-likelihoods) used by the live metrics."""
        g = torch.Generator().manual_seed(seed)
        tr = X[torch.randperm(len(X), generator=g)[:n_eval]]
        out = {"train": tr}
        if X_val is not None:
            va = X_val[torch.randperm(len(X_val), generator=g)[:n_eval]]
            out["val"] = va
            out["val_bin"] = torch.bernoulli(va.cpu(), generator=g).double()
        return out

    @torch.no_grad()
    def metrics(self, ev: dict) -> dict[str, float]:
        """Held-out reconstruction error, pseudo-log-likelihood, free-energy gap, exact LL if small."""
        m = {}
        V = ev.get("val", ev["train"])
        Pv = self._mean_visibles(self._mean_hiddens(V))
        m["recon_error"] = float(((Pv - V) ** 2).sum(1).mean())  # squared error per image, mean-field
        m["pseudo_ll"] = float(np.mean(self.score_samples(V, random_state=0)))
        if "val" in ev:
            m["fe_gap"] = float(self._free_energy(ev["val"]).mean() - self._free_energy(ev["train"]).mean())
            if can_enumerate(*self._P.shape):
                logz = self.log_partition()
                m["exact_ll"] = float(exact_log_likelihood(ev["val_bin"], self.W.cpu(), self.b.cpu(), self.c.cpu(), logz).mean())
        return m

    @torch.no_grad()
    def negative_particles(self, n: int) -> np.ndarray:
        """P(v=1|h) of the first n persistent chains (under the regular plus fast weights for FPCD), (n, n_v)."""
        self._check_fitted()
        P = self._P + (self._fast if self._fast is not None else 0.0)
        return torch.sigmoid(self._chains[:n] @ P[:, :-1]).cpu().numpy()

    def monitor_set(self, X, X_val=None, n_eval: int = 500, seed: int = 0) -> dict:
        """Fixed subsets for the live metrics (`metrics`): up to n_eval training and held-out rows, and one
        binarisation of the held-out rows for log-likelihoods."""
        return self._eval_tensors(self._tensor(X), self._tensor(X_val, "X_val") if X_val is not None else None,
                                  n_eval, seed)
