"""Optimal transport with POT.

    plans          measures on a grid, cost matrices, exact plans and costs, the factories-and-stores assignment,
                   Sinkhorn's entropic plans and their entropies
    interpolation  between two measures on a line: displacement interpolation, the mixture, the entropic barycenter
    color          colour transfer between images (exact and entropic plans on sampled pixels, pixel swaps,
                   histogram matching) and the colour distances that compare them
"""
