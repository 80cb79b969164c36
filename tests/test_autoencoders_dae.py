"""Denoising autoencoders (core.autoencoders.dae): the corruption process and walkback match their descriptions,
the chain runs as described, training improves denoising and touches nothing else."""
import math

import numpy as np
import pytest
import torch

from core import training
from core.autoencoders import dae as D

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_salt_and_pepper_resets_the_stated_fraction_to_zero_or_one_equally():
    g = torch.Generator().manual_seed(0)
    x = torch.full((200, 784), 0.3)  # neither 0 nor 1: every reset pixel is visible
    before = x.clone()
    for level in (0.0, 0.1, 0.4, 1.0):
        y = D.corrupt(x, "salt_pepper", level, g)
        reset = y != 0.3
        n = reset.numel()
        se = math.sqrt(level * (1 - level) / n) + 1e-12
        assert abs(reset.float().mean().item() - level) < 5 * se + 1e-12, level
        if level:
            ones = (y[reset] == 1).float().mean().item()
            assert abs(ones - 0.5) < 5 * math.sqrt(0.25 / reset.sum().item())  # salt and pepper in equal parts
            assert set(torch.unique(y[reset]).tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(x, before)  # the input is not modified
    xb = (torch.rand(200, 784, generator=g) < 0.2).float()  # on a binary image a fraction level/2 flips
    flipped = (D.corrupt(xb, "salt_pepper", 0.4, g) != xb).float().mean().item()
    assert abs(flipped - 0.2) < 5 * math.sqrt(0.2 * 0.8 / xb.numel())


def test_gaussian_corruption_adds_noise_of_the_stated_variance():
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(300, 784, generator=g) < 0.3).float()
    for sigma in (0.0, 0.2, 1.5):
        noise = D.corrupt(x, "gaussian", sigma, g) - x
        n = noise.numel()
        assert abs(noise.mean().item()) < 5 * sigma / math.sqrt(n) + 1e-12
        assert abs(noise.var().item() - sigma ** 2) < 5 * sigma ** 2 * math.sqrt(2 / n) + 1e-12
    for kind, level in (("salt_pepper", 1.5), ("gaussian", -0.1), ("blur", 0.1)):
        with pytest.raises(ValueError):
            D.corrupt(x, kind, level, g)


def test_walkback_lengths_follow_the_geometric_law():
    g = torch.Generator().manual_seed(2)
    for p in (0.0, 0.5, 0.8):
        L = D.walkback_lengths(200_000, p, g).numpy()
        assert L.min() >= 1
        assert abs(L.mean() - 1 / (1 - p)) < 5 * math.sqrt(p) / (1 - p) / math.sqrt(len(L)) + 1e-12
        for n in range(1, 6):  # P(L = n) = p^(n-1) (1 - p)
            want = p ** (n - 1) * (1 - p)
            got = (L == n).mean()
            assert abs(got - want) < 5 * math.sqrt(want * (1 - want) / len(L)) + 1e-12, (p, n)
    with pytest.raises(ValueError):
        D.walkback_lengths(3, 1.0, g)


def test_walkback_pairs_are_the_digit_against_ever_further_corruptions():
    g = torch.Generator().manual_seed(3)
    torch.manual_seed(0)
    net = D.Autoencoder(20, 8)
    x = (torch.rand(50, 20, generator=g) < 0.5).float()
    inputs, targets, lengths = D.walkback_pairs(net, x, "salt_pepper", 0.3, 0.6, g)
    assert len(inputs) == len(targets) == int(lengths.sum())
    torch.testing.assert_close(targets[:50], x)  # the first pair of every digit: (x, C(x))
    rows = {tuple(r.tolist()) for r in x}
    assert all(tuple(t.tolist()) in rows for t in targets)  # every target is a training digit, never a sample
    assert not any(p.grad is not None for p in net.parameters())


def test_chain_records_means_and_is_reproducible():
    torch.manual_seed(0)
    net = D.Autoencoder(16, 8)
    x0 = D.noise_start(5, 16, seed=1)
    assert set(np.unique(x0)) <= {0.0, 1.0}
    a = D.chain(net, x0, 6, "salt_pepper", 0.3, seed=4, record=(0, 2, 6))
    b = D.chain(net, x0, 6, "salt_pepper", 0.3, seed=4, record=(0, 2, 6))
    assert sorted(a) == [0, 2, 6]
    np.testing.assert_array_equal(a[0], x0)
    for t in (2, 6):
        np.testing.assert_array_equal(a[t], b[t])
        assert a[t].shape == (5, 16) and 0 < a[t].min() and a[t].max() < 1  # probabilities P(x | x~)
    s = D.chain_samples(net, "gaussian", 0.5, n_chains=3, burn_in=4, thin=2, per_chain=5, seed=0)
    assert s["images"].shape == (15, 16) and s["steps"] == [4, 6, 8, 10, 12]


def test_tied_weights_decode_with_the_transposed_encoder():
    torch.manual_seed(0)
    net = D.Autoencoder(12, 5, tied=True)
    assert "decoder.weight" not in net.state_dict() and net.n_visible == 12
    x = torch.rand(3, 12)
    W, b = net.encoder[0].weight, net.encoder[0].bias
    torch.testing.assert_close(net(x), torch.tanh(x @ W.T + b) @ W + net.decoder_bias)
    untied = D.Autoencoder(12, 5, tied=False)
    assert untied.decoder.weight.shape == (12, 5)


def test_mixing_counts_classes_visited_and_changes():
    labels = np.array([[1, 1, 2, 2], [3, 3, 3, 3], [0, 1, 2, 3]])
    m = D.mixing(labels)
    assert m["classes_per_chain"] == pytest.approx((2 + 1 + 4) / 3)
    assert m["class_change_rate"] == pytest.approx((1 + 0 + 3) / 9)


def prototypes(n=400, seed=0):
    """Two 4x5 binary patterns, repeated: the data's distribution is known (two points)."""
    from core.data import ImageData

    P = np.array([[1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
                  [0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0]], np.float32)
    y = np.random.default_rng(seed).integers(0, 2, n)
    return ImageData("digits", P[y], y, P[y[:100]], y[:100], (1, 4, 5), ["a", "b"])


def test_training_learns_to_denoise_and_the_plain_autoencoder_to_copy():
    """On data of two patterns the DAE maps corrupted inputs back to the patterns; the plain AE copies its input."""
    data = prototypes()
    X_before = data.X_train.copy()
    run = D.DAERun("digits", n_train=400, hidden=64, epochs=20, n_eval=100, level=0.3, lr=1e-2, batch_size=50)
    snap = training.run_to_end(D.DAESteps(run, data))
    first, last = snap["history"][0], snap["history"][-1]
    for m in ("ae", "dae", "walkback"):
        assert last[f"denoise_{m}"] < first[f"denoise_{m}"] - 5 and np.isfinite(last[f"recon_{m}"])
    assert last["denoise_dae"] < 0.5 * last["denoise_ae"]  # trained on corrupted inputs: the denoiser
    assert 1.5 < last["walkback_examples_per_digit"] < 2.5  # p = 0.5: two examples per digit on average
    np.testing.assert_array_equal(X_before, data.X_train)
    models = D.models(snap)
    assert set(models) == {"ae", "dae", "walkback"}
    # the DAE's chains from noise end on the two patterns, and visit both
    s = D.chain_samples(models["dae"], run.corruption, run.level, n_chains=20, burn_in=10, thin=2, per_chain=5)
    P = np.unique(data.X_train, axis=0)
    dist = np.abs(s["images"][:, None, :] - P[None]).sum(-1)  # (100, 2) L1 distances to the patterns
    assert dist.min(1).mean() < 1.0
    assert set(dist.argmin(1).tolist()) == {0, 1}
    assert D.DAERun(walkback=False).models == ("ae", "dae")
    no_wb = D.DAERun("digits", n_train=100, hidden=8, epochs=1, walkback=False)
    assert set(training.run_to_end(D.DAESteps(no_wb, data))["nets"]) == {"ae", "dae"}


def test_bad_settings_are_refused(mnist):
    for bad in (dict(corruption="blur"), dict(level=1.5), dict(corruption="gaussian", level=-1.0),
                dict(walkback_p=1.0), dict(hidden=0)):
        with pytest.raises(ValueError):
            D.DAESteps(D.DAERun(**bad), mnist)
