"""The model families of the scoreboard: each one's run (the page's default, shipped), its held-out likelihood
(how obtained, which way it errs) and its sampler. No new science: every number comes from the family's own lab.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from core import assets, configs, training
from core.data import ImageData

N_GIBBS = 1000  # Gibbs sweeps of the energy-based families' chains before their samples are taken


@dataclass(frozen=True)
class Estimate:
    """A held-out log-likelihood, nats per image (higher is better), and what it is."""

    ll: float  # the figure shown: mean over the held-out digits of (an estimate of) log p(x)
    se: float  # its standard error over the digits (nan: not stored by the run)
    method: str  # how it was obtained, in a few words
    errs: str  # which way it can err
    low: float = float("nan")  # the conservative side of a sandwich (RAISE), else nan
    check: str = ""  # a convergence check and its outcome, when the method has one


@dataclass(frozen=True)
class Family:
    name: str  # the row's label
    family: str  # the model class it belongs to
    page: str  # its page's file stem (the link)
    asset: str  # folder under assets/ of the page's default run
    steps: Callable[[ImageData, dict], training.Steps]  # the run kind of a stored config (a snapshot's "config")
    likelihood: Callable[[dict], Estimate | None]  # from the stored run; None: an implicit model
    sample: Callable[[dict, ImageData, int, int], np.ndarray]  # (run, data, n, seed) -> (n, 784) in [0, 1]
    params: Callable[[dict], int]  # parameters of the model that generates
    label: int | None = None  # the class it models (None: all ten)
    note: str = ""  # one line under its row
    seconds_key: str = "seconds"  # the run's entry holding this model's training seconds (wall)
    binary: bool = False  # its samples are 0/1 images (no mean image exists): scored beside binarised real digits

    @property
    def implicit(self) -> bool:
        return self.likelihood is _implicit

    def default_config(self) -> dict | None:
        """The config of its shipped run (provenance.json: read without loading the weights), or None."""
        p = assets.folder(self.asset) / "provenance.json"
        return json.loads(p.read_text())["config"] if p.is_file() else None

    def asset_stamp(self) -> str:
        """A fingerprint of its shipped run's provenance.json (it changes whenever the run is re-shipped or
        rescored): a stored row names the stamp of the run it scored."""
        p = assets.folder(self.asset) / "provenance.json"
        return hashlib.sha256(p.read_bytes()).hexdigest()[:16] if p.is_file() else ""


def _implicit(result: dict) -> None:
    return None


def _count(tree) -> int:
    """Learnable numbers in a state dict tree (BatchNorm's running statistics and counters excluded)."""
    if isinstance(tree, torch.Tensor):
        return int(tree.numel())
    if isinstance(tree, dict):
        return sum(_count(v) for k, v in tree.items() if "running_" not in k and "num_batches" not in k)
    if isinstance(tree, (list, tuple)):
        return sum(_count(v) for v in tree)
    return 0


def _scores(result: dict) -> dict:
    return result.get("provenance", {}).get("scores", {})


def _doubling(curve: list[dict]) -> str:
    """The change of log Z_hat from the default number of temperatures to twice as many (the last two points)."""
    if len(curve) < 2:
        return ""
    a, b = curve[-2], curve[-1]
    return (f"log Z moved {b['log_z'] - a['log_z']:+.2f} nats from {a['n_betas']:,} to {b['n_betas']:,} temperatures "
            f"({'within' if abs(b['log_z'] - a['log_z']) <= 0.5 else 'NOT within'} 0.5 nats)")


# ----------------------------------------------------------------------------- energy-based: RBM, DBM, DBN

def _dbm_steps(data: ImageData, config: dict) -> training.Steps:
    from core.boltzmann import dbm

    return dbm.DBMSteps(configs.config_like(dbm.DBMRun(), config), data)


def _rbm_ll(result: dict) -> Estimate | None:
    ll = _scores(result).get("log_likelihood", {})
    s = ll.get("rbm_sandwich")
    if not s:
        return None
    return Estimate(s["ais"], float("nan"), "AIS (log Z) with RAISE: a stochastic sandwich",
                    "AIS optimistic on average, RAISE conservative on average", low=s["conservative"],
                    check=_doubling(ll.get("log_z_curve", {}).get("rbm", [])))


def _ais_and_bound(result: dict, model: str, curve: str, method: str) -> Estimate | None:
    """A likelihood made of an AIS estimate of log Z and a variational bound of log p*(v) (the DBM, the DBN)."""
    ll = _scores(result).get("log_likelihood", {})
    if model not in ll:
        return None
    return Estimate(ll[model]["ll"], float("nan"), method,
                    "neither a bound nor known to err one way (the two errors point opposite ways)",
                    check=_doubling(ll.get("log_z_curve", {}).get(curve, [])))


def _dbm_ll(result: dict) -> Estimate | None:
    return _ais_and_bound(result, "dbm", "dbm", "AIS (log Z) + a mean-field bound of log p*(v)")


def _rbm_sample(result: dict, data: ImageData, n: int, seed: int) -> np.ndarray:
    from core.boltzmann import dbm

    start = (np.random.default_rng(int(seed)).random((int(n), data.n_features)) < 0.5).astype(np.float32)
    return dbm.baseline_rbm(result).reconstruct_many(start, [N_GIBBS], random_state=seed)[N_GIBBS]


def _dbm_sample(result: dict, data: ImageData, n: int, seed: int) -> np.ndarray:
    from core.boltzmann import dbm

    start = (np.random.default_rng(int(seed)).random((int(n), data.n_features)) < 0.5).astype(np.float32)
    return dbm.model(result).sample(n, N_GIBBS, random_state=seed, init=start)[N_GIBBS]


def _dbn_steps(data: ImageData, config: dict) -> training.Steps:
    from core.autoencoders import stacks

    return stacks.DBNSteps(configs.config_like(stacks.DBNRun(), config), data)


def _dbn_ll(result: dict) -> Estimate | None:
    return _ais_and_bound(result, "dbn", "dbn_top", "AIS (top RBM's log Z) + a variational bound of log p*(v)")


def _dbn_sample(result: dict, data: ImageData, n: int, seed: int) -> np.ndarray:
    from core.autoencoders import stacks

    return stacks.dbn_sample(stacks.dbn_rbms(result), n, N_GIBBS, seed)[N_GIBBS]


# ----------------------------------------------------------------------------- latent variable: VAE

def _vae_steps(data: ImageData, config: dict) -> training.Steps:
    from core.autoencoders import vae

    return vae.VAESteps(configs.config_like(vae.VAERun(), config), data)


def _vae_ll(result: dict) -> Estimate | None:
    s = _scores(result).get("heldout_ll_is")
    if not s:
        return None
    return Estimate(s["ll"], s["se_digits"], f"importance sampling from q(z|x), k = {s['k']:,}",
                    "a stochastic lower bound: low on average", check=f"Monte Carlo error {s['se_mc']:.3f} nats")


def _decoder_params(result: dict) -> int:
    return _count({k: v for k, v in result["nets"]["vae"].items() if k.startswith("decoder")})


def _vae_sample(result: dict, data: ImageData, n: int, seed: int) -> np.ndarray:
    from core.autoencoders import vae

    return vae.sample_prior(vae.model(result), n, seed)


# ----------------------------------------------------------------------------- autoregressive: PixelCNN

def _pixelcnn_steps(data: ImageData, config: dict) -> training.Steps:
    from core.pixelcnn import run

    return run.PixelCNNSteps(configs.config_like(run.PixelCNNRun(), config), data)


def _pixelcnn_ll(result: dict) -> Estimate | None:
    s = _scores(result)
    if "heldout_nll" not in s:
        return None
    return Estimate(-s["heldout_nll"], s["heldout_nll_se"], "exact (the chain rule over the 784 pixels)",
                    "exact: no estimation error (± is the spread over digits)")


def _pixelcnn_sample(result: dict, data: ImageData, n: int, seed: int) -> np.ndarray:
    from core.pixelcnn import run

    return run.sample(run.model(result), n, torch.Generator().manual_seed(int(seed)), data.shape[1:])


# ----------------------------------------------------------------------------- implicit: GANs, GMMNs, the DAE chain

def _gan_steps(data: ImageData, config: dict) -> training.Steps:
    from core.gan import train as gt

    return gt.GANSteps(gt.GANSteps.config_from(config), data)


def _cgan_steps(data: ImageData, config: dict) -> training.Steps:
    from core.gan import conditional

    return conditional.CGANSteps(conditional.CGANSteps.config_from(config), data)


def _gan_sample(result: dict, data: ImageData, n: int, seed: int) -> np.ndarray:
    """n samples of a GAN's final generator from seeded noise; a conditional GAN: n / 10 of each class."""
    from core.gan import conditional, latent

    if result["kind"] == conditional.CGANSteps.kind:
        per = -(-int(n) // 10)
        native, first = latent.images_of(result, data, 0)[0], latent.sampler_for(result, 0)  # one generator for all
        out = []
        for c in range(10):
            s = latent.Sampler(first.G, first.cfg, c)
            out.append(native(s.render(s.noise(per, seed + c))))
        idx = np.random.default_rng(seed).permutation(10 * per)[: int(n)]
        return np.concatenate(out)[idx]
    s = latent.sampler_for(result)
    return latent.images_of(result, data)[0](s.render(s.noise(n, seed)))


def _generator_params(result: dict) -> int:
    return _count(result["nets"]["G"])


def _gmmn_steps(data: ImageData, config: dict) -> training.Steps:
    from core.gmmn import run

    return run.GMMNSteps(configs.config_like(run.GMMNRun(), config), data)


def _gmmn_sample(result: dict, data: ImageData, n: int, seed: int) -> np.ndarray:
    from core.gmmn import run

    return run.sample(result, n, torch.Generator().manual_seed(int(seed)))


def _gmmn_params(result: dict) -> int:
    """The generator's parameters, and the decoder's for GMMN+AE (the encoder does not generate)."""
    return _count(result["nets"]["G"]) + _count({k: v for k, v in result["nets"].get("ae", {}).items()
                                                 if not k.startswith("enc")})


def _dae_steps(data: ImageData, config: dict) -> training.Steps:
    from core.autoencoders import dae

    return dae.DAESteps(configs.config_like(dae.DAERun(), config), data)


def _dae_sample(result: dict, data: ImageData, n: int, seed: int) -> np.ndarray:
    """The DAE's chain from noise: n / 10 chains, 100 burn-in steps, then 10 pictures 10 steps apart each."""
    from core.autoencoders import dae

    run = configs.config_like(dae.DAERun(), result["config"])
    net = dae.models(result)["dae"]
    return dae.chain_samples(net, run.corruption, run.level, n_chains=-(-int(n) // 10), seed=seed)["images"][: int(n)]


FAMILIES: list[Family] = [
    Family("RBM", "energy-based", "boltzmann_4_deep", "dbm", _dbm_steps, _rbm_ll, _rbm_sample,
           lambda r: _count(r["nets"]["rbm"]), note="the DBM page's comparison RBM (500 hidden units)",
           seconds_key="rbm_seconds"),
    Family("DBM", "energy-based", "boltzmann_4_deep", "dbm", _dbm_steps, _dbm_ll, _dbm_sample,
           lambda r: _count(r["nets"]["dbm"]), seconds_key="dbm_seconds"),
    Family("DBN", "energy-based", "autoencoders_3_stacks", "dbn", _dbn_steps, _dbn_ll, _dbn_sample,
           lambda r: _count(r["rbms"])),
    Family("VAE (32-d latent)", "latent variable", "autoencoders_1_vae", "vae_z32", _vae_steps, _vae_ll, _vae_sample,
           _decoder_params),
    Family("VAE (2-d latent)", "latent variable", "autoencoders_1_vae", "vae_z2", _vae_steps, _vae_ll, _vae_sample,
           _decoder_params),
    Family("PixelCNN", "autoregressive", "pixelcnn_1_pixelcnn", "pixelcnn", _pixelcnn_steps, _pixelcnn_ll,
           _pixelcnn_sample, lambda r: _count(r["nets"]["pixelcnn"]), note="samples drawn pixel by pixel",
           binary=True),
    Family("GAN (MLP, minimax)", "implicit", "gan_2_mlp", "gan/mlp", _gan_steps, _implicit, _gan_sample,
           _generator_params),
    Family("GAN (minimax, comparison)", "implicit", "gan_3_minimax_vs_wgan", "gan/compare-minimax", _gan_steps,
           _implicit, _gan_sample, _generator_params),
    Family("WGAN-GP", "implicit", "gan_3_minimax_vs_wgan", "gan/compare-wgan-gp", _gan_steps, _implicit, _gan_sample,
           _generator_params),
    Family("Conditional GAN", "implicit", "gan_4_conditional", "gan/conditional", _cgan_steps, _implicit, _gan_sample,
           _generator_params, note="100 samples of each class"),
    Family("DCGAN (digit 3 only)", "implicit", "gan_1_dcgan", "gan/dcgan", _gan_steps, _implicit, _gan_sample,
           _generator_params, label=3, note="trained on the 3s only: scored against the 3s"),
    Family("GMMN (pixels)", "implicit", "gmmn_1_gmmn", "gmmn", _gmmn_steps, _implicit, _gmmn_sample, _gmmn_params),
    Family("GMMN+AE (code)", "implicit", "gmmn_1_gmmn", "gmmn_ae", _gmmn_steps, _implicit, _gmmn_sample,
           _gmmn_params, note="the GMMN models a 32-unit autoencoder code; decoded"),
    Family("Denoising-autoencoder chain", "implicit", "autoencoders_2_denoising", "dae", _dae_steps, _implicit,
           _dae_sample, lambda r: _count(r["nets"]["dae"]) if "dae" in r["nets"] else _count(r["nets"]),
           note="100 chains from noise, 10 pictures each"),
]


def by_name(name: str) -> Family:
    for f in FAMILIES:
        if f.name == name:
            return f
    raise KeyError(name)
