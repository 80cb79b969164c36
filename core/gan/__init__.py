"""GANs: the networks (`models`: DCGAN and the fully connected GAN), DiffAugment (`diffaug`) and training
(`train`: minimax, non-saturating, WGAN and WGAN-GP, resumable, with fixed-noise timelines)."""
