"""Autoencoders as generative models, and greedy layer-wise stacks.

    digits     the run protocol's common part of the labs that train by epochs on binary digits (DigitEpochs)
    vae        the variational autoencoder: beta-ELBO and IWAE training, log-likelihood by importance sampling
    dae        denoising autoencoders (and a plain one), their sampling chain and its scores
    stacks     the deep belief network: greedy RBMs, sampling, the variational bound of its log-likelihood
    sae        stacked autoencoders, pre-trained greedily beside the same net trained end to end
    features   the feature experiment: a logistic regression on raw pixels, the stacks' codes and the DBN's features
"""
