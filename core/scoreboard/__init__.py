"""One scoreboard of every model family on the same 2,000 held-out MNIST digits.

Every lab trains on the first 8,000 digits of the MNIST test split and is scored on the last 2,000
(`core.data.held_out_binary`: one binarisation for every likelihood). The scoreboard puts the families side by
side on the app's one set of yardsticks:

- **Held-out log-likelihood** (nats per image, higher is better), where the family has one, each with how it
  was obtained and which way it can err (`Estimate`):
  exact (PixelCNN: the chain rule, no estimate); AIS with RAISE (the RBM: a stochastic sandwich, AIS
  optimistic on average, RAISE conservative on average); AIS of log Z plus a variational bound of log p*(v)
  (the DBM and the DBN: the two errors point opposite ways, so neither a bound nor known to err one way; the
  movement of log Z when the temperatures double is shown as its convergence check); importance sampling from
  q(z|x) (the VAE: a stochastic lower bound, low on average). Implicit models (the GANs, the GMMNs, the
  denoising-autoencoder chain) have none: "not available: implicit model".
- **Sample quality** of 1,000 samples (`core.quality.QualityModel.report`): the Frechet distance on the one
  split-half definition against training and against held-out digits, each beside its floor and spread;
  classes covered; diversity; and the nearest-neighbour copy ratio (`core.gan.latent.copy_ratio`: distance of
  each sample to its nearest training digit over that of real held-out digits; near 0: copies).
- **Cost**: parameters of the model that generates (a GAN's generator, not its critic) and training seconds.

`families.FAMILIES` lists the families with their page's default run; `board.row` scores one run;
`board.main` (``python -m core.scoreboard.board --out assets/scoreboard``) writes the rows of the shipped runs,
so the page opens in seconds.
"""
