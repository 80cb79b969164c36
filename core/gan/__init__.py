"""GANs, one module per part of the lab:

    config        run configs (GANConfig, GANRun), the logging schedule, the published settings of each loss, presets
    images        the images a run learns from and makes (class, size, [-1, 1] and back), generate, grid_at
    models        the networks: DCGAN and the fully connected GAN (and Radford et al.'s guidelines)
    losses        the discriminator's loss and the gradient penalty
    diffaug       DiffAugment (colour, translation, cutout)
    trainer       GANTrainer: one run's G, D, optimisers and generator; one D step, one G step, one iteration
    train         GANSteps: the run kind of the unconditional GANs (minimax, non-saturating, WGAN, WGAN-GP), shipping
    diagnosis     failure flags in plain words
    single_steps  GAN Lab's single steps on a copy of a finished run (the step-by-step panel)
    latent        paths and walks in noise space, nearest training images, a generator's quality now
    conditional   the conditional DCGAN (projection discriminator) and its run kind, CGANSteps
    domains       the CycleGAN's two domains of digits (MNIST and the upscaled 8x8 digits)
    judges        who scores a translation (a reader of both domains, a domain judge) and the joint rate
    cycle         the CycleGAN (translators, critics, losses) and its run kind, CycleSteps
    transport     a WGAN critic's estimate of W1 against the exact optimal-transport cost (POT) on batches
"""
