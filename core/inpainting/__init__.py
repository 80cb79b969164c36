"""Inpainting a 6x6 hole in a digit.

    masks      the hole process, the held-out digits every method is scored on, the masked MSE
    pca        PCA fills: the plain projection and the least-squares fit to the observed pixels
    ebm        the energy network trained with a generator through the gradient flip (EBMSteps)
    compare    the method comparison: best d of each PCA fill, and one row per method (error and seconds)
"""
