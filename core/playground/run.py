"""The playground's run kind and its live session.

`PlaygroundRun` (the config: target, objective, sizes, step sizes) and `PlaygroundSteps` (a core.training
TorchSteps: one unit = one iteration = `d_steps` D updates then one G update; a history row every `measure_every`
iterations) serve the tests, the benchmark and the command line:

    python -m core.playground.run --objective wgan-gp --iterations 2000

`Live` is one student's run on the page: the same steps taken one iteration at a time (play), or one D update, one
G update, one iteration at a time (step), with the views the page draws (D's field on a grid, G's points and the
gradient G's loss puts on them, G's map of a noise grid, D* beside D, the equilibrium) and a bounded set of frames
for an animation. Every random draw of training comes from the run's generator (reproducible from the seed);
measurements and views use their own fixed generators, so looking never changes the run.
"""
from __future__ import annotations

import copy
from collections import deque
from dataclasses import dataclass, replace

import numpy as np
import torch

from core import training
from core.device import adam
from core.playground import objectives as ob
from core.playground import targets as tg
from core.playground import theory

D_STEPS = {"wgan-clip": 5, "wgan-gp": 5}  # the objective's D updates per G update when the run says 0 (else 1)
OPENING = 500  # iterations of the run the page opens on (trained once, kept in the disk cache)
CHECK_UPDATES, CHECK_BATCH = 8000, 256  # the exact D* check's D updates and batch size (`Live.known_g_check`)
MEASURE_SEED = 7_919  # measurements draw from generators seeded by this, the run's seed and the iteration


@dataclass
class PlaygroundRun:
    """Everything that decides a playground run (the cache key; drawn or uploaded points are passed beside it)."""

    target: str = "ring"  # a name of core.playground.targets.TARGETS, or "points" (the points passed to the steps)
    objective: str = "nonsat"  # see core.playground.objectives.OBJECTIVES
    noise_dim: int = 2  # dimensions of z ~ N(0, I) (2: G's map of the noise plane can be drawn)
    hidden: int = 64  # units of each hidden layer of G and of D
    layers: int = 2  # hidden layers of G and of D (LeakyReLU 0.2)
    batch_size: int = 256  # real and fake points per update
    lr_d: float = 1e-3  # D's step size (Adam, betas 0.5 and 0.9; RMSprop for weight clipping, as Arjovsky et al.)
    lr_g: float = 1e-3  # G's step size (same optimiser as D's)
    d_steps: int = 0  # D updates per G update (0: the objective's own: 5 for the two WGANs, 1 otherwise)
    clip: float = 0.1  # weight clipping's bound c (wgan-clip)
    gp_weight: float = 1.0  # the gradient penalty's lambda (wgan-gp)
    entropy: bool = True  # the energy model's entropy bonus on (off: G collapses onto E's minimum)
    entropy_weight: float = 0.1  # beta, the weight of the entropy bonus in G's loss (energy)
    energy_reg: float = 0.1  # rho, the energy's squared-value penalty that keeps E bounded (energy)
    iterations: int = 2000  # G updates
    measure_every: int = 100  # a history row (losses, W1 by POT, modes) every this many iterations
    n_eval: int = 512  # real and fake points of each measurement (W1, modes, critic's estimate)
    seed: int = 0  # initial weights (G: seed, D: seed + 1) and every draw of training


def check_run(run: PlaygroundRun) -> None:
    """One-line errors for settings that cannot train."""
    if run.objective not in ob.OBJECTIVES:
        raise ValueError(f"unknown objective {run.objective!r}; choose one of {sorted(ob.OBJECTIVES)}")
    if run.target not in tg.TARGETS and run.target != "points":
        raise ValueError(f"unknown target {run.target!r}")
    if min(int(run.noise_dim), int(run.hidden), int(run.layers), int(run.batch_size), int(run.n_eval)) < 1:
        raise ValueError("noise dimension, hidden units, layers, batch size and evaluation points must be at least 1")
    if not (float(run.lr_d) > 0 and float(run.lr_g) > 0):
        raise ValueError("step sizes must be positive")
    if int(run.d_steps) < 0 or int(run.iterations) < 0 or int(run.measure_every) < 1:
        raise ValueError("D steps and iterations must be at least 0, the measurement interval at least 1")
    if not float(run.clip) > 0:
        raise ValueError("the clipping bound must be positive")


def d_steps_of(run: PlaygroundRun) -> int:
    return int(run.d_steps) or D_STEPS.get(run.objective, 1)


class PlaygroundSteps(training.TorchSteps):
    """One iteration per unit: `d_steps` D updates (fresh real points, noise, and for the gradient penalty mixing
    weights, all from the run's generator) then one G update. History rows: mean losses since the last row, W1
    between `n_eval` real and fake points (POT), the critic's estimate E f(x) - E f(x~) on the same points, D's
    mean on each, the minimax value (probability objectives) and the modes covered (ring, grid, single Gaussian).
    Snapshot: nets {G, D}, opts {G, D}, rng, and the update counts and loss sums."""

    kind = "gan-playground"
    x = "iteration"
    unit = "iteration"

    def __init__(self, run: PlaygroundRun, target: tg.Mixture | None = None):
        check_run(run)
        if run.target == "points" and target is None:
            raise ValueError("a run on drawn or uploaded points needs those points")
        self.config = run
        self.target = target if target is not None else tg.make(run.target)

    def total(self) -> int:
        return int(self.config.iterations)

    def due(self, done: int) -> bool:
        return done % int(self.config.measure_every) == 0

    def build(self) -> None:
        run = self.config
        h, n = int(run.hidden), int(run.layers)
        self.G = training.seeded(run.seed, lambda: ob.MLP(int(run.noise_dim), 2, h, n))
        self.D = training.seeded(int(run.seed) + 1, lambda: ob.MLP(2, 1, h, n))
        if run.objective == "wgan-clip":
            ob.clip_weights(self.D, run.clip)
            make = lambda net, lr: torch.optim.RMSprop(net.parameters(), lr=lr)  # noqa: E731
        else:
            make = lambda net, lr: adam(net.parameters(), lr=lr, betas=(0.5, 0.9))  # noqa: E731
        self.nets = {"G": self.G, "D": self.D}
        self.opts = {"G": make(self.G, float(run.lr_g)), "D": make(self.D, float(run.lr_d))}
        self.gen = torch.Generator().manual_seed(int(run.seed))
        self.counts = {"d_updates": 0, "g_updates": 0}
        self.sums = {"loss_d": 0.0, "n_d": 0, "loss_g": 0.0, "n_g": 0}

    def extra_state(self) -> dict:
        return {"counts": dict(self.counts), "sums": dict(self.sums)}

    def restore_extra(self, snapshot: dict) -> None:
        self.counts, self.sums = dict(snapshot["counts"]), dict(snapshot["sums"])

    # -- the updates
    def noise(self, n: int, gen: torch.Generator) -> torch.Tensor:
        return torch.randn(int(n), int(self.config.noise_dim), generator=gen)

    def d_update(self, batch_size: int | None = None) -> float:
        """One update of D (critic, energy) on a fresh batch (the run's batch size unless given); returns its loss."""
        run, B = self.config, int(batch_size or self.config.batch_size)
        real = self.target.sample(B, self.gen)
        with torch.no_grad():
            fake = self.G(self.noise(B, self.gen))
        loss = ob.d_loss(run.objective, self.D(real), self.D(fake), run.energy_reg)
        if run.objective == "wgan-gp":
            eps = torch.rand(B, 1, generator=self.gen)
            loss = loss + float(run.gp_weight) * ob.gradient_penalty(self.D, real, fake, eps)
        opt = self.opts["D"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if run.objective == "wgan-clip":
            ob.clip_weights(self.D, run.clip)
        self.counts["d_updates"] += 1
        self.sums["loss_d"] += float(loss.detach())
        self.sums["n_d"] += 1
        return float(loss.detach())

    def g_update(self) -> float:
        """One update of G against the current D; returns its loss (the entropy bonus included)."""
        run = self.config
        x, pre = self.G.forward_with_hidden(self.noise(int(run.batch_size), self.gen))
        loss = ob.g_loss(run.objective, self.D(x))
        if run.objective == "energy" and run.entropy:
            loss = loss - float(run.entropy_weight) * ob.gaussian_entropy(pre)
        opt = self.opts["G"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        self.D.zero_grad(set_to_none=True)  # G's backward reached D's weights: D's next update starts clean anyway
        self.counts["g_updates"] += 1
        self.sums["loss_g"] += float(loss.detach())
        self.sums["n_g"] += 1
        return float(loss.detach())

    def advance(self, done: int):
        for _ in range(d_steps_of(self.config)):
            self.d_update()
        self.g_update()

    # -- measurements
    def measure_generator(self, done: int) -> torch.Generator:
        return torch.Generator().manual_seed(MEASURE_SEED * 1_000_003 + int(self.config.seed) * 100_003 + int(done))

    @torch.no_grad()
    def measure(self, done: int) -> dict[str, float]:
        run, gen = self.config, self.measure_generator(done)
        real = self.target.sample(int(run.n_eval), gen)
        fake = self.G(self.noise(int(run.n_eval), gen))
        a_r, a_f = self.D(real).squeeze(1), self.D(fake).squeeze(1)
        s = self.sums
        out = {"loss_d": s["loss_d"] / s["n_d"]} if s["n_d"] else {}  # no loss before the first update
        if s["n_g"]:
            out["loss_g"] = s["loss_g"] / s["n_g"]
        out.update({"w1": theory.w1(real.numpy(), fake.numpy()),
               "critic_w1": float(a_r.mean() - a_f.mean()),
               "d_real": float(ob.field_value(run.objective, a_r).mean()),
               "d_fake": float(ob.field_value(run.objective, a_f).mean())})
        if run.objective in ob.PROBABILITY:
            out["value"] = theory.minimax_value(torch.sigmoid(a_r).numpy(), torch.sigmoid(a_f).numpy())
        if self.target.has_modes:
            out["modes"] = float(theory.count_modes(fake.numpy(), self.target.means, self.target.std)["covered"])
        self.sums = {"loss_d": 0.0, "n_d": 0, "loss_g": 0.0, "n_g": 0}
        return out

    def data_arrays(self) -> tuple:
        return (self.target.means, np.array([self.target.std]))


# ----------------------------------------------------------------------------- the live session

class Live:
    """One student's playground run (see the module docstring). Memory stays bounded: the history has one row per
    `measure_every` iterations, the animation keeps the last `frames` frames of points and field."""

    ACTIONS = ("D step", "G step", "iteration")

    def __init__(self, run: PlaygroundRun, target: tg.Mixture | None = None, grid_n: int = 60, n_show: int = 512,
                 frames: int = 60, snapshot: dict | None = None):
        """A fresh run at iteration 0, or (`snapshot`: a PlaygroundSteps snapshot of the same settings, e.g. the
        `opening` run from the cache) the run continued from there: playing on gives the same numbers as a run
        never interrupted (the resume contract of core.training)."""
        self.steps = PlaygroundSteps(run, target)
        if snapshot is None:
            self.steps.start()
        else:
            self.steps.restore(copy.deepcopy(snapshot))  # never share tensors with a cached result
        self.run, self.target = run, self.steps.target
        self.done = 0 if snapshot is None else int(snapshot["done"])  # full iterations
        self.extent = self.target.extent()
        self.xs, self.ys, self.grid = tg.grid(self.extent, grid_n)
        view = torch.Generator().manual_seed(int(run.seed) + 4_242)
        self.real_view = self.target.sample(int(n_show), view).numpy()
        self.z_view = self.steps.noise(int(n_show), view)
        self.history: list[dict] = ([{"iteration": 0, **self.steps.measure(0)}] if snapshot is None else
                                    [dict(r) for r in snapshot["history"]])
        self.frames: deque = deque(maxlen=int(frames))
        self.log: list[str] = []

    # -- training
    @property
    def d_updates(self) -> int:
        return self.steps.counts["d_updates"]

    @property
    def g_updates(self) -> int:
        return self.steps.counts["g_updates"]

    def take(self, action: str) -> None:
        """One of ACTIONS: one D update, one G update, or one full iteration (d_steps D updates, one G update)."""
        if action == "D step":
            self.steps.d_update()
        elif action == "G step":
            self.steps.g_update()
        elif action == "iteration":
            self.play(1)
            return
        else:
            raise ValueError(f"action must be one of {self.ACTIONS}, not {action!r}")
        self.log.append(action)
        del self.log[:-50]

    def play(self, n: int) -> None:
        """n full iterations, a history row whenever one is due."""
        for _ in range(int(n)):
            self.steps.advance(self.done)
            self.done += 1
            if self.steps.due(self.done):
                self.history.append({"iteration": self.done, **self.steps.measure(self.done)})

    def train_d_alone(self, n: int, batch_size: int | None = None, lr_end: float | None = None) -> None:
        """n D updates with G frozen (D approaches D* for this G): the run's batch size and step size unless given;
        with `lr_end` the step size decays geometrically from the run's to lr_end over the n updates (then the
        run's step size is put back), which removes most of the minibatch noise from the final D."""
        _train_d_alone(self.steps, n, batch_size, lr_end)

    def keep_frame(self) -> None:
        self.frames.append({"fake": self.fakes(), "field": self.field(), "done": self.done})

    # -- views
    @torch.no_grad()
    def field(self, points=None) -> np.ndarray:
        """D's drawn value (D(x), the critic or the energy) on the grid, (n, n) rows = ys (or at the points given)."""
        pts = self.grid if points is None else np.asarray(points, np.float32)
        v = ob.field_value(self.run.objective, self.steps.D(torch.as_tensor(pts))).squeeze(1).numpy()
        return v if points is not None else v.reshape(len(self.ys), len(self.xs))

    @torch.no_grad()
    def fakes(self) -> np.ndarray:
        """G of the fixed view noise (n_show, 2)."""
        return self.steps.G(self.z_view).numpy()

    def g_push(self) -> tuple[np.ndarray, np.ndarray]:
        """(points, -grad_x of G's loss at each point) for G's points of the view: where G's loss moves them
        (the D-dependent part; n times the per-point gradient of the batch mean)."""
        x = self.steps.G(self.z_view).detach().requires_grad_(True)
        loss = ob.g_loss(self.run.objective, self.steps.D(x))
        grad, = torch.autograd.grad(loss, x)
        self.steps.D.zero_grad(set_to_none=True)
        return x.detach().numpy(), -grad.numpy() * len(x)

    @torch.no_grad()
    def transformation(self, lines: int = 15, span: float = 2.5) -> list[np.ndarray]:
        """G's image of a grid of noise: `lines` lines along z1 and along z2 over [-span, span] (other dims 0),
        each (m, 2) points of the plane (one line when the noise is 1-D)."""
        nz, t = int(self.run.noise_dim), torch.linspace(-span, span, 60)
        out = []
        if nz == 1:
            return [self.steps.G(t[:, None]).numpy()]
        for c in torch.linspace(-span, span, int(lines)):
            for axis in (0, 1):
                z = torch.zeros(len(t), nz)
                z[:, axis], z[:, 1 - axis] = t, c
                out.append(self.steps.G(z).numpy())
        return out

    @torch.no_grad()
    def optimal_d(self, n_samples: int = 5000, bandwidth: float | str | None = None) -> dict:
        """D* = p_data / (p_data + p_g) on the grid (p_data exact, p_g a kernel density of n_samples of G's points,
        fixed noise), D's field, and their mean absolute gap where the data has mass (p_data > 10 % of its peak).
        bandwidth: a width, None (Scott's rule) or "likelihood" (the width that maximises the likelihood of
        n_samples // 5 further held-out points of G, `theory.likelihood_bandwidth`); a G with a `log_density` (an
        objectives.AffineGenerator) gives the exact D* ("bandwidth" 0). Meaningful for minimax, nonsat and LSGAN."""
        log_p = self.target.log_density(self.grid)
        if hasattr(self.steps.G, "log_density"):  # a G of known density (objectives.AffineGenerator): exact D*
            h, log_q = 0.0, self.steps.G.log_density(self.grid)
        else:
            gen = torch.Generator().manual_seed(int(self.run.seed) + 31_337)
            S = self.steps.G(self.steps.noise(int(n_samples), gen)).numpy()
            if bandwidth == "likelihood":
                held = self.steps.G(self.steps.noise(max(500, int(n_samples) // 5), gen)).numpy()
                bandwidth = theory.likelihood_bandwidth(S, held)[0]
            h = float(bandwidth or theory.scott_bandwidth(S))
            log_q = theory.kde_log_density(S, self.grid, h)
        dstar = theory.optimal_d_from_logs(log_p, log_q)
        d = self.field().ravel()
        mask = theory.mass_mask(np.exp(log_p))
        shape = (len(self.ys), len(self.xs))
        return {"dstar": dstar.reshape(shape), "d": d.reshape(shape), "mask": mask.reshape(shape),
                "gap": float(np.abs(d - dstar)[mask].mean()), "bandwidth": h}

    def _d_copy(self, G: torch.nn.Module, seed_offset: int) -> PlaygroundSteps:
        """The run's steps with G replaced by `G` (frozen), a copy of D with a fresh Adam, and a generator of its own
        (the run's seed + seed_offset): D can train alone without touching the run."""
        other = copy.copy(self.steps)
        other.G = G
        other.D = copy.deepcopy(self.steps.D)
        other.opts = {"D": adam(other.D.parameters(), lr=float(self.run.lr_d), betas=(0.5, 0.9))}
        other.gen = torch.Generator().manual_seed(int(self.run.seed) + int(seed_offset))
        other.counts, other.sums = dict(self.steps.counts), dict(self.steps.sums)
        return other

    def known_g_check(self, n: int = CHECK_UPDATES, batch_size: int = CHECK_BATCH, lr_end: float = 1e-5,
                      callback=None) -> dict:
        """Prop. 1 checked exactly: a copy of D trained n updates alone (step size decaying to lr_end) against a
        frozen G of known density, the target with a trained GAN's flaws (`targets.imperfect` drawn by
        `objectives.MixtureGenerator`), so D* = p_data / (p_data + p_g) needs no density estimate. Returns
        `optimal_d`'s dict for the copy plus "gap_before" (the copy before training), "g_points" (1,000 of the
        flawed G's points) and "support" (grid points where p_data + p_g is above 1e-3 of its peak: elsewhere D* is
        a ratio of two vanishing tails). `callback(done, n)` is called every 200 updates. The run itself is not changed.
        Meaningful for minimax, nonsat and LSGAN."""
        other = self._d_copy(ob.MixtureGenerator(tg.imperfect(self.target)), 4_242)
        view = copy.copy(self)
        view.steps = other
        before = view.optimal_d()["gap"]
        _train_d_alone(other, n, batch_size, lr_end, callback)
        with torch.no_grad():
            pts = other.G(torch.randn(1000, 2, generator=torch.Generator().manual_seed(3))).numpy()
        p, q = self.target.density(self.grid), np.exp(other.G.log_density(self.grid))
        support = (p + q >= 1e-3 * max(p.max(), q.max())).reshape(len(self.ys), len(self.xs))
        return {**view.optimal_d(), "gap_before": before, "g_points": pts, "support": support}

    def equilibrium(self, n: int = 300) -> dict:
        """A copy of D trained n updates with G's points replaced by the target's own (p_g = p_data): D* = 1/2
        everywhere and V = -log 4. Returns {"field": the copy's field, "gap": mean |D - 1/2| where the data has
        mass, "value": V on fresh points}. The run itself is not changed."""
        other = self._d_copy(_TargetSampler(self.target), 99)
        for _ in range(int(n)):
            other.d_update()
        with torch.no_grad():
            f = ob.field_value(self.run.objective, other.D(torch.as_tensor(self.grid))).squeeze(1).numpy()
            gen = torch.Generator().manual_seed(5)
            a = self.target.sample(2000, gen)
            b = self.target.sample(2000, gen)
            value = theory.minimax_value(torch.sigmoid(other.D(a)).numpy(), torch.sigmoid(other.D(b)).numpy())
        mask = theory.mass_mask(self.target.density(self.grid))
        return {"field": f.reshape(len(self.ys), len(self.xs)), "gap": float(np.abs(f - 0.5)[mask].mean()),
                "value": value}


def _train_d_alone(steps: PlaygroundSteps, n: int, batch_size: int | None, lr_end: float | None,
                   callback=None) -> None:
    opt = steps.opts["D"]
    lr0 = [g["lr"] for g in opt.param_groups]
    for i in range(int(n)):
        if lr_end is not None:
            for g, lr in zip(opt.param_groups, lr0):
                g["lr"] = lr * (float(lr_end) / lr) ** (i / max(1, int(n) - 1))
        steps.d_update(batch_size)
        if callback is not None and (i + 1) % 200 == 0:
            callback(i + 1, int(n))
    for g, lr in zip(opt.param_groups, lr0):
        g["lr"] = lr


def opening(run: PlaygroundRun, iterations: int = OPENING) -> PlaygroundRun:
    """The run the page opens on: these settings trained for `iterations` (a cache key of its own)."""
    return replace(run, iterations=int(iterations))


class _TargetSampler(torch.nn.Module):
    """Stands in for G in `Live.equilibrium`: its 'noise' is replaced by fresh target points of the same count."""

    def __init__(self, target: tg.Mixture):
        super().__init__()
        self.target = target
        self.gen = torch.Generator().manual_seed(11)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.target.sample(len(z), self.gen)


def main(argv=None):
    return training.main(lambda run, data: PlaygroundSteps(run), PlaygroundRun(), argv,
                         "Train a GAN (one of six objectives) on a 2-D target; one line per measurement.")


if __name__ == "__main__":
    main()
