"""The training updates of `core.boltzmann.rbm.RBM`: CD-k, PCD-k and FPCD-k on mini-batches (a mixin of the RBM).

All parameters live in one (n_h+1) x (n_v+1) matrix P = [[W, c], [b, 0]] and every data or chain row carries a
trailing 1, so that

    P(h=1|v) = sigm(P [v, 1]),  P(v=1|h) = sigm(P^T [h, 1]),  <h v>_data - <h v>_model = HH^T VV / B

where VV stacks the batch's rows over the negative chains' rows and HH their hidden probabilities (the negative
rows scaled by -B/n): a mini-batch of CD/PCD is four matrix products and two samplers. FPCD (Tieleman & Hinton
2009) runs the persistent chains on P + F, F the fast weights (see `RBMUpdates._update_fpcd`).
"""
from __future__ import annotations

import math

import torch


class RBMUpdates:
    """The steps that train an RBM (`initialize`, `update`, `fit_epoch`) and the updates behind them; mixed into
    `core.boltzmann.rbm.RBM`, whose state (P, persistent chains, momentum velocity, fast weights, generator) they
    change in place."""

    def initialize(self, n_features: int):
        """Fresh weights (N(0, 0.01)), zero biases, persistent chains and the seeded generator: what fit does first."""
        self._init_state(int(n_features))
        return self

    @torch.no_grad()
    def update(self, V: torch.Tensor) -> None:
        """One CD-k / PCD-k / FPCD-k update on the mini-batch V (n, n_v): a float32 tensor on the model's
        device, used as it is (no copy, no checks: the training loops' fast path; see partial_fit)."""
        Va = self._with_ones(V)
        self._update(Va, self._buffers_for(len(Va)))

    @torch.no_grad()
    def fit_epoch(self, X) -> None:
        """One pass over X in mini-batches of batch_size, in order (reshuffled by the RBM's generator if shuffle)."""
        self._check_fitted()
        cached = getattr(self, "_epoch_data", None)
        if cached is None or cached[0] is not X:
            self._epoch_data = (X, self._with_ones(self._tensor(X)))
        for _ in self._epoch(self._epoch_data[1]):
            pass

    def _buffers(self, B: int) -> dict:
        """Work arrays of one update, allocated once per fit.

        VV stacks the data rows over the negative-chain rows, HH their hidden probabilities, so
        that the whole gradient <h v>_data - <h v>_model is one matrix product HH^T VV.
        """
        nh, nv = self._P.shape[0] - 1, self._P.shape[1] - 1
        n_c = self._chains.shape[0] if self.method in ("pcd", "fpcd") else B
        dev = self._P.device
        return {"VV": torch.empty(B + n_c, nv + 1, device=dev), "HH": torch.empty(B + n_c, nh + 1, device=dev),
                "vp": torch.empty(n_c, nv + 1, device=dev), "hs": torch.empty(n_c, nh + 1, device=dev)}

    def _bernoulli_into(self, out: torch.Tensor, P: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
        """out <- (U < P) with U ~ Uniform[0, 1): a Bernoulli(P) sample as 0/1 floats.

        Four times faster than torch.bernoulli on a CPU; a ones-column of P stays 1 since U < 1.
        """
        out.uniform_(generator=gen or self._gen)
        return out.lt_(P)

    def _hidden_probs(self, V: torch.Tensor, out: torch.Tensor, P: torch.Tensor | None = None) -> torch.Tensor:
        """out <- [P(h=1|v), 1] for rows V = [v, 1] (under the parameters P, default the model's)."""
        torch.mm(V, (self._P if P is None else P).T, out=out)  # (n, nh+1): [c + W v, junk]
        out.sigmoid_()
        out[:, -1] = 1.0
        return out

    def _visible_sample(self, H: torch.Tensor, prob: torch.Tensor, out: torch.Tensor,
                        P: torch.Tensor | None = None) -> torch.Tensor:
        """out <- [v, 1] with v ~ P(v|h) for rows H = [h, 1] (under the parameters P, default the model's)."""
        torch.mm(H, self._P if P is None else P, out=prob)  # (n, nv+1): [b + W^T h, junk]
        prob.sigmoid_()
        prob[:, -1] = 1.0
        return self._bernoulli_into(out, prob)

    def _update(self, Va: torch.Tensor, buf: dict) -> None:
        """One CD-k / PCD-k update from the mini-batch Va = [v, 1] (B, n_v+1)."""
        if self._fast is not None:
            return self._update_fpcd(Va, buf)
        P, B, k = self._P, Va.shape[0], int(self.k)
        pcd = self.method == "pcd"
        n = self._chains.shape[0] if pcd else B  # negative chains
        VV, HH = buf["VV"][: B + n], buf["HH"][: B + n]  # rows [:B] data, [B:] model
        VV[:B].copy_(Va)
        vs, hn, hs, vp = VV[B:], HH[B:], buf["hs"][:n], buf["vp"][:n]
        if pcd and k == 1:  # chains do not depend on this batch: one product gives both phases
            self._visible_sample(self._chains, vp, vs)
            self._hidden_probs(VV, HH)
            self._bernoulli_into(self._chains, hn)
        else:
            self._hidden_probs(VV[:B], HH[:B])
            H = self._chains if pcd else self._bernoulli_into(hs, HH[:B])
            for step in range(k):
                self._visible_sample(H, vp, vs)
                self._hidden_probs(vs, hn)
                if pcd:
                    H = self._bernoulli_into(self._chains, hn)
                elif step < k - 1:
                    H = self._bernoulli_into(hs, hn)
        hn.mul_(-B / n)  # so that HH^T VV / B = <h v>_data - <h v>_model
        if self._velocity is None and not self.weight_decay:  # the common case: one fused product
            P.addmm_(HH.T, VV, alpha=float(self.learning_rate) / B)
            self.n_updates_ += 1
        else:
            self._step(torch.mm(HH.T, VV).mul_(1.0 / B))

    def _step(self, G: torch.Tensor) -> None:
        """P += learning_rate * (G - weight_decay * W), through momentum when it is on. G: (n_h+1, n_v+1)."""
        P, lr = self._P, float(self.learning_rate)
        if self.weight_decay:
            G[:-1, :-1].add_(P[:-1, :-1], alpha=-float(self.weight_decay))
        if self._velocity is not None:
            self._velocity.mul_(self.momentum).add_(G, alpha=lr)
            P.add_(self._velocity)
        else:
            P.add_(G, alpha=lr)
        self.n_updates_ += 1

    def _update_fpcd(self, Va: torch.Tensor, buf: dict) -> None:
        """One FPCD-k update (Tieleman & Hinton 2009) from the mini-batch Va = [v, 1].

        The persistent chains run on P + F (regular + fast weights); the gradient
        G = <h v>_data - <h v>_chains (hidden probabilities of both under the regular weights) moves P by
        learning_rate (with momentum and weight decay) and F by fast_learning_rate, F decaying by fast_decay
        every update. With fast_learning_rate = 0 this is PCD-k exactly.
        """
        P, Fw, B, k = self._P, self._fast, Va.shape[0], int(self.k)
        n = self._chains.shape[0]
        VV, HH = buf["VV"][: B + n], buf["HH"][: B + n]  # rows [:B] data, [B:] chains
        VV[:B].copy_(Va)
        vs, hn, vp = VV[B:], HH[B:], buf["vp"][:n]
        Pn = P + Fw  # (n_h+1, n_v+1): the negative chains' weights
        for _ in range(k):  # Gibbs steps under P + F
            self._visible_sample(self._chains, vp, vs, Pn)
            self._bernoulli_into(self._chains, self._hidden_probs(vs, hn, Pn))
        self._hidden_probs(VV, HH)  # statistics under the regular weights
        hn.mul_(-B / n)
        G = torch.mm(HH.T, VV).mul_(1.0 / B)  # <h v>_data - <h v>_chains
        Fw.mul_(float(self.fast_decay)).add_(G, alpha=float(self.fast_learning_rate))
        self._step(G)

    def _epoch(self, Xa: torch.Tensor):
        """Updates over the rows of Xa = [X, 1]; yields the batch index after each."""
        n, B = Xa.shape[0], int(self.batch_size)
        if n == 0:
            raise ValueError("X is empty")
        data = Xa[torch.randperm(n, generator=self._gen, device=Xa.device)] if self.shuffle else Xa
        buf = self._buffers_for(B)
        for i in range(math.ceil(n / B)):
            self._update(data[i * B: (i + 1) * B], buf)
            yield i

    def _with_ones(self, V: torch.Tensor) -> torch.Tensor:
        return torch.cat([V, torch.ones(len(V), 1, device=V.device, dtype=V.dtype)], 1)  # ones carry the biases

    def _buffers_for(self, B: int) -> dict:
        """Work arrays for batches of up to B rows, kept between updates."""
        buf = getattr(self, "_buf", None)
        if buf is None or buf["VV"].shape[0] < B + (self._chains.shape[0] if self.method != "cd" else B):
            buf = self._buf = self._buffers(B)
        return buf
