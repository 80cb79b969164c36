"""The 2-D GAN playground: six objectives on 2-D targets whose density is known, with the theory checked live.

Modules:
    targets     the 2-D targets as Gaussian mixtures (exact density, score and sampling; drawn or uploaded points)
    objectives  the small MLPs, the six objectives' losses, the gradient penalty, weight clipping, the entropy bonus
    theory      the optimal discriminator, kernel density of G's samples, W1 by POT, the mode counter, the equilibrium
    score       the denoising autoencoder's score field r(x) - x against the exact score (Alain & Bengio 2014)
    run         PlaygroundRun / PlaygroundSteps (the run kind) and Live (play, pause, single steps, the views)
"""
