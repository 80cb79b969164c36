"""Inpainting: the 6x6 hole process, PCA fills and the energy network trained with a generator (`ebm`)."""
