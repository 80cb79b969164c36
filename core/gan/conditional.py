"""A conditional DCGAN: the generator and the discriminator both see the label.

    G(z, y):  DCGAN generator whose input is [z, onehot(y)] (nz + K channels at 1x1)
    D(x, y) = psi(phi(x)) + <V e_y, phi(x)>        phi(x): the DCGAN discriminator's last feature map, averaged
                                                    over positions (B, 4w); psi linear; V (K, 4w) class embeddings

The discriminator is a *projection discriminator* (Miyato & Koyama, "cGANs with projection discriminator",
2018), not one that concatenates the label to its input: if the optimal D's logit is log p(x|y)/q(x|y)
+ const with both class-conditionals log-linear in phi(x), the label enters exactly as an inner product
with the features. The label then steers what the discriminator looks at, instead of being one more input
channel it may learn to ignore; Miyato & Koyama found it gives better class fidelity than concatenation.

Training is the non-saturating GAN loss with Adam (2e-4, beta1 0.5), labels of real images from the data and
of fake images drawn uniformly. As in Reed et al.'s GAN-CLS (2016) the discriminator also sees real images
paired with a wrong label as negatives (weight `wrong_label`): it must check that image and label match, not
only that the image is real, which teaches the label's meaning much sooner. The fixed-noise grid has one row per class and one column per noise vector:
down a column the noise is the same and only the label changes. Quality adds the label accuracy: the share
of samples that the quality classifier (core.quality) puts in the class they were generated for.

    python -m core.gan.conditional                       # the page's default run
    python -m core.gan.conditional --out assets/gan/conditional   # ... shipped
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core import data as datasets
from core import training
from core.gan import config as gc
from core.gan import images as gi
from core.gan import train as gt
from core.gan.trainer import GANTrainer
from core.gan.losses import discriminator_loss
from core.gan.models import DCGANDiscriminator, DCGANGenerator, init_dcgan_weights

N_PER_CLASS = 8  # noise vectors (columns) of the fixed-noise grid


class ConditionalGenerator(nn.Module):
    """(B, nz), (B,) labels -> (B, C, S, S): a DCGAN generator fed [z, onehot(y)]."""

    def __init__(self, nz: int, n_classes: int, channels: int, image_size: int, width: int):
        super().__init__()
        self.nz, self.n_classes = nz, n_classes
        self.body = DCGANGenerator(nz + n_classes, channels, image_size, width)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat([z, F.one_hot(y, self.n_classes).to(z.dtype)], 1))  # (B, nz + K) -> images


class ProjectionDiscriminator(nn.Module):
    """(B, C, S, S), (B,) -> (B,) logits: psi(phi(x)) + <V[y], phi(x)>, phi = the averaged last feature map."""

    def __init__(self, n_classes: int, channels: int, image_size: int, width: int):
        super().__init__()
        d = DCGANDiscriminator(channels, image_size, width, norm="batch")
        self.features = nn.Sequential(*list(d.net.children())[:-1])  # up to the last (B, 4w, 4, 4) map
        n_feat = [m for m in self.features if isinstance(m, nn.Conv2d)][-1].out_channels
        self.psi = nn.Linear(n_feat, 1)
        self.embed = nn.Embedding(n_classes, n_feat)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        phi = self.features(x).mean((2, 3))  # (B, 4w): the last map averaged over its 4x4 positions
        return self.psi(phi).squeeze(1) + (self.embed(y) * phi).sum(1)  # (B,)


@dataclass
class CGANConfig:
    """Every hyper-parameter of a conditional GAN run (the cache key is made of these)."""

    image_size: int = 32  # MNIST padded from 28x28 to 32x32
    nz: int = 100  # noise dimension
    width: int = 32  # channels of the last hidden map of G (and first of D)
    batch_size: int = 64  # images per D step and per G step
    lr: float = 2e-4  # Adam step of both networks (beta1 0.5, beta2 0.999)
    wrong_label: float = 0.5  # weight of a third D term: real images with a wrong label are fake (GAN-CLS; 0: off)
    n_iters: int = 1500  # generator iterations
    log_every: int = 0  # iterations per metrics row (0: from n_iters)
    grid_every: int = 0  # iterations per fixed-noise grid (0: from n_iters)
    quality_every: int = 0  # iterations per quality row (0: from n_iters)
    seed: int = 0  # initial weights, noise, labels, batch order
    channels_last: bool = True  # NHWC memory layout for the convolutions (faster on CPU)


@dataclass
class CGANRun:
    """All classes of a dataset, with their labels."""

    dataset: str = "mnist"  # see core.data.DATASETS
    n_train: int = 8000  # the first n training images
    gan: CGANConfig = field(default_factory=CGANConfig)


def as_gan_run(run: CGANRun) -> gc.GANRun:
    """The unconditional trainer's view of the run (data preparation, optimisers, schedule)."""
    c = run.gan
    cfg = gc.GANConfig(arch="dcgan", loss="nonsat", image_size=c.image_size, nz=c.nz, width=c.width,
                       batch_size=c.batch_size, lr_g=c.lr, lr_d=c.lr, n_iters=c.n_iters, log_every=c.log_every,
                       grid_every=c.grid_every, quality_every=c.quality_every, n_grid=N_PER_CLASS, seed=c.seed,
                       channels_last=c.channels_last)
    return gc.GANRun(run.dataset, -1, run.n_train, cfg)


class CGANTrainer(GANTrainer):
    """GANTrainer whose networks see labels: real batches come with theirs, fakes get uniform ones (its hooks
    `real_batch` and `fake` return (images, labels); `d_step` and `g_step` feed both to D and G)."""

    def __init__(self, run: CGANRun, data: datasets.ImageData, device=None):
        self.crun = run
        self.n_classes = len(data.classes) or int(data.y_train.max()) + 1
        super().__init__(as_gan_run(run), data, device=device)
        self.Y = torch.as_tensor(data.y_train[: run.n_train], dtype=torch.long).to(self.device)  # (n,) labels of X
        c, C = run.gan, self.shape[0]
        self.G = ConditionalGenerator(c.nz, self.n_classes, C, c.image_size, c.width).to(self.device)
        self.D = ProjectionDiscriminator(self.n_classes, C, c.image_size, c.width).to(self.device)
        init_dcgan_weights(self.G, self.gen)
        init_dcgan_weights(self.D, self.gen)
        with torch.no_grad():  # class embeddings of unit scale against the features: <V_y, phi> starts O(1)
            self.D.embed.weight.normal_(0.0, self.D.embed.weight.shape[1] ** -0.5, generator=self.gen)
        if self.cl:
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        self.opt_g, self.opt_d = self.make_optimizer(self.G, c.lr), self.make_optimizer(self.D, c.lr)
        # fixed grid: row k = class k, column j = noise vector j (the same in every row)
        self.y_fixed = torch.arange(self.n_classes).repeat_interleave(N_PER_CLASS).to(self.device)  # (K * 8,)
        self.z_fixed = self.z_fixed[:N_PER_CLASS].repeat(self.n_classes, 1)  # (K * 8, nz)

    def real_batch(self):
        """The next real batch of the epoch order and its labels: ((B, C, S, S), (B,))."""
        B = min(self.cfg.batch_size, len(self.X))
        if self.pos + B > len(self.X):
            self.perm = torch.randperm(len(self.X), generator=self.gen)
            self.pos = 0
        idx = self.perm[self.pos:self.pos + B].to(self.device)
        self.pos += B
        self.seen += B
        return self.X[idx], self.Y[idx]

    def _labels(self, n: int, gen: torch.Generator | None = None) -> torch.Tensor:
        return torch.randint(0, self.n_classes, (n,), generator=gen or self.gen).to(self.device)

    def fake(self, n: int, y: torch.Tensor | None = None):
        """G(z, y) of n fresh noise vectors and labels y (default: uniform), with gradients: (images, y)."""
        y = self._labels(n) if y is None else y
        x = self.G(self.noise(n), y)
        return (x.contiguous(memory_format=torch.channels_last) if self.cl else x), y

    def d_step(self) -> dict[str, float]:
        real, y_real = self.real_batch()
        with torch.no_grad():
            fake, y_fake = self.fake(len(real))
        loss, logged = discriminator_loss(self.D(real, y_real), self.D(fake, y_fake))
        w = float(self.crun.gan.wrong_label)
        if w:  # Reed et al. (2016): real images paired with a wrong label are negatives too
            y_wrong = (y_real + torch.randint(1, self.n_classes, y_real.shape, generator=self.gen).to(self.device)) \
                % self.n_classes
            out_w = self.D(real, y_wrong)
            wrong = F.binary_cross_entropy_with_logits(out_w, torch.zeros_like(out_w))
            loss = loss + w * wrong
            logged = {**logged, "d_loss": loss, "acc_wrong": (out_w < 0).float().mean()}
        self.log(**logged)
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        self.d_updates += 1
        return {"d_loss": float(loss.detach())}

    def g_step(self) -> dict[str, float]:
        fake, y = self.fake(min(self.cfg.batch_size, max(2, len(self.X))))
        out = self.D(fake, y)
        loss = F.softplus(-out).mean()  # -log D(G(z, y), y): the non-saturating loss
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.iters += 1
        self.log(g_loss=loss, d_fake_g=torch.sigmoid(out).mean())
        return {"g_loss": float(loss.detach())}

    def generate_labelled(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return render(self.G, z.to(self.device), y.to(self.device))

    def fixed_samples(self) -> torch.Tensor:
        return self.generate_labelled(self.z_fixed.cpu(), self.y_fixed.cpu())

    def samples(self, n: int, random_state: int = 0) -> torch.Tensor:
        """n samples, labels 0, 1, ..., K-1, 0, 1, ... (balanced), seeded."""
        g = torch.Generator().manual_seed(random_state)
        z = torch.randn(n, self.cfg.nz, generator=g)
        return self.generate_labelled(z, torch.arange(n) % self.n_classes)

    @torch.no_grad()
    def probe(self, n: int = 256, random_state: int = 0) -> dict[str, float]:
        g = torch.Generator().manual_seed(random_state)
        idx = torch.randperm(len(self.X), generator=g)[:n].to(self.device)
        real, y = self.X[idx], self.Y[idx]
        fake = self.generate_labelled(torch.randn(len(y), self.cfg.nz, generator=g), y.cpu()).to(self.device)
        with gi.eval_batch_stats(self.D):
            r, f = self.D(real, y), self.D(fake, y)
        return {"d_real": float(torch.sigmoid(r).mean()), "d_fake": float(torch.sigmoid(f).mean()),
                "acc_real": float((r > 0).float().mean()), "acc_fake": float((f < 0).float().mean())}


@torch.no_grad()
def render(G: ConditionalGenerator, z: torch.Tensor, y: torch.Tensor, context: int = 256) -> torch.Tensor:
    """G(z, y) as in training, BatchNorm on batch statistics, each (z, y) among `context` typical draws (seed 1234,
    uniform labels), so that an image does not depend on the others shown with it: (n, C, S, S) in [-1, 1], CPU."""
    g = torch.Generator().manual_seed(1234)
    zc = torch.randn(context, z.shape[1], generator=g).to(z.device)
    yc = torch.randint(0, G.n_classes, (context,), generator=g).to(y.device)
    with gi.eval_batch_stats(G):
        out = G(torch.cat([z, zc]), torch.cat([y, yc]))
    return out[: len(z)].float().cpu().contiguous()


def label_accuracy(images_native: np.ndarray, labels: np.ndarray, quality) -> dict:
    """Share of samples the quality classifier puts in the class they were generated for, overall and per class,
    and the confusion counts (rows: asked-for class, columns: predicted)."""
    pred = quality.predict_proba(images_native).argmax(1)
    K = quality.n_classes
    conf = np.zeros((K, K), np.int64)
    np.add.at(conf, (np.asarray(labels), pred), 1)
    per = conf.diagonal() / np.maximum(conf.sum(1), 1)
    return {"label_accuracy": float((pred == labels).mean()), "per_class": per.astype(np.float64),
            "confusion": conf}


def class_report(result: dict, data: datasets.ImageData, label: int, quality, n: int = 1000, seed: int = 30_000) -> dict:
    """n samples of one class from a run: the first 64 (in [0, 1] at the trained size, "unit"), their Frechet
    distance to that class's training images ("fid") and the share the classifier puts in it ("share")."""
    from core.quality import N_EVAL

    G = generator(result, len(data.classes) or 10)
    g = torch.Generator().manual_seed(seed)
    n = max(int(n), N_EVAL)
    imgs = render(G, torch.randn(n, G.nz, generator=g), torch.full((n,), int(label), dtype=torch.long))
    run = as_gan_run(CGANSteps.config_from(result["config"]))
    native = gi.to_native(imgs, run, data.shape)
    rep = quality.report(native[:N_EVAL], label)
    return {"unit": gi.to_unit(imgs[:64]), "fid": float(rep["fid"]), "share": float(rep["class_hist"][label])}


class CGANSteps(gt.GANSteps):
    """The conditional GAN through the GAN loop (the same snapshot keys); quality rows add the label accuracy.
    The page's default run ships in assets/gan/conditional."""

    kind = "cgan"
    trainer_class = CGANTrainer

    def __init__(self, run: CGANRun, data: datasets.ImageData, quality=None, device=None):
        super().__init__(run, data, quality, device)
        self.every = gc.schedule(as_gan_run(run).gan)

    def total(self) -> int:
        return int(self.config.gan.n_iters)

    def quality_row(self, step: int) -> dict:
        from core.quality import N_EVAL

        tr = self.trainer
        labels = np.arange(N_EVAL) % tr.n_classes
        native = gi.to_native(tr.samples(N_EVAL, random_state=20_000 + self.config.gan.seed), tr.run, tr.data_shape)
        rep = self.quality.report(native)
        acc = label_accuracy(native, labels, self.quality)
        row = {"step": step, "epoch": round(tr.epoch, 3), **{k: float(v) for k, v in rep.items()
                                                             if k not in ("class_hist", "n")}}
        row.update(class_hist=[float(v) for v in rep["class_hist"]], label_accuracy=acc["label_accuracy"],
                   per_class=[float(v) for v in acc["per_class"]])
        return row

    def measure(self, done: int) -> dict[str, float]:
        m = super().measure(done)
        if self.qrows and self.qrows[-1]["step"] == done:
            m["label_accuracy"] = self.qrows[-1]["label_accuracy"]
        return m

    def data_arrays(self) -> tuple:
        return gi.prepare(as_gan_run(self.config), self.data).numpy(), self.data.y_train[: self.config.n_train]

    @staticmethod
    def config_from(d: dict) -> CGANRun:
        return CGANRun(**{**d, "gan": CGANConfig(**d["gan"])})

    def asset_folder(self):
        """assets/gan/conditional when the config is the page's default run (`CGANRun()`), else None."""
        return gt.ASSET_DIR / "conditional" if self.config == CGANRun() else None


def generator(result: dict, n_classes: int = 10) -> ConditionalGenerator:
    """The conditional generator of a run, CPU, eval mode."""
    c = CGANConfig(**result["config"]["gan"])
    C = int(result["grids"][0]["images"].shape[1])
    G = ConditionalGenerator(c.nz, n_classes, C, c.image_size, c.width)
    G.load_state_dict(result["nets"]["G"])
    return G.eval()


def main(argv=None):
    from core.quality import quality_model

    return training.main(lambda run, data: CGANSteps(run, data, quality_model(data)), CGANRun(), argv,
                         "Train the conditional DCGAN (projection discriminator) and print its progress.")


if __name__ == "__main__":
    main()
