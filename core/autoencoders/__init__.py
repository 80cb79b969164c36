"""Autoencoders as generative models: the VAE (vae), denoising autoencoders and their sampling chain (dae),
greedy layer-wise stacks: the deep belief network and stacked autoencoders (stacks)."""
