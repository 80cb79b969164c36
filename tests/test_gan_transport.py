"""core.gan.transport: a WGAN critic's estimate against POT's exact W1 on images, checked against closed forms and a
brute-force assignment."""
import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from core import assets
from core.gan import transport


def test_a_unit_linear_critic_and_emd_both_give_the_length_of_a_translation():
    """Fakes = reals + v: W1 = |v| exactly (the identity coupling costs |v|, and W1 >= |difference of means|), and
    the 1-Lipschitz critic f(x) = -u.x with u = v/|v| attains it."""
    g = torch.Generator().manual_seed(0)
    v = torch.randn(1, 12, generator=g)
    critic = torch.nn.Linear(12, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(-v / v.norm())
    reals = [torch.randn(30, 12, generator=g) for _ in range(2)]
    rows = transport.compare_batches(critic, reals, [x + v for x in reals])
    for r in rows:
        assert r["emd"] == pytest.approx(float(v.norm()), rel=1e-6)
        assert r["critic"] == pytest.approx(float(v.norm()), rel=1e-5)
        assert r["ratio"] == pytest.approx(1.0, rel=1e-5)


def test_the_shipped_gp_critic_against_a_brute_force_assignment():
    """On 40 real and 40 generated images of the shipped WGAN-GP run, emd2 equals the optimal assignment's mean cost
    (scipy's Hungarian algorithm: equal uniform weights make W1 an assignment problem) and the critic's number is
    E f(real) - E f(fake) recomputed here."""
    result = assets.load(assets.folder("gan/compare-wgan-gp"))
    rows = transport.critic_vs_emd(result, n=40, batches=1, seed=3)
    assert rows is not None and len(rows) == 1
    # the same batches again (same seed), to recompute independently
    from core.gan.config import run_from_dict
    from core.gan.images import prepare
    from core.gan.models import build
    from core import data as datasets

    run = run_from_dict(result["config"])
    X = prepare(run, datasets.load(run.dataset))
    G, D = build("mlp", nz=run.gan.nz, shape=tuple(X.shape[1:]), width=run.gan.width, critic="wgan-gp")
    G.load_state_dict(result["nets"]["G"])
    D.load_state_dict(result["nets"]["D"])
    G.eval(), D.eval()  # G's batch normalisation uses its running statistics
    gen = torch.Generator().manual_seed(3)
    idx = torch.randperm(len(X), generator=gen)
    real = X[idx[:40]]
    with torch.no_grad():
        fake = G(torch.rand(40, run.gan.nz, generator=gen) * 2 - 1)
        est = float(D(real).mean() - D(fake).mean())
    a, b = real.reshape(40, -1).double().numpy(), fake.reshape(40, -1).double().numpy()
    cost = np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))
    r, c = linear_sum_assignment(cost)
    assert rows[0]["emd"] == pytest.approx(cost[r, c].mean(), rel=1e-9)
    assert rows[0]["critic"] == pytest.approx(est, rel=1e-5)
    other = X[idx[40:80]].reshape(40, -1).double().numpy()
    cost2 = np.sqrt(((a[:, None] - other[None]) ** 2).sum(-1))
    r2, c2 = linear_sum_assignment(cost2)
    assert rows[0]["floor"] == pytest.approx(cost2[r2, c2].mean(), rel=1e-9)


def test_a_run_without_a_critic_gives_none():
    result = assets.load(assets.folder("gan/compare-minimax"))
    assert transport.critic_vs_emd(result) is None
