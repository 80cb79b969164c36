"""Generative moment matching networks (Li, Swersky & Zemel 2015) and the Parzen-window yardstick they were scored by.

    mmd      maximum mean discrepancy with a sum of Gaussian kernels: the kernel-sum form (biased and unbiased), the
             mean-embedding form (explicit or random Fourier features), the closed form for two isotropic Gaussians
    parzen   the Parzen-window (Gaussian kernel density) log-likelihood, its bandwidth chosen on a validation split,
             and k-means centroids: the estimator's known flaw (Theis, van den Oord & Bethge 2016)
    run      the GMMN run kind: an MLP generator trained on pixels, or on an autoencoder's code (GMMN+AE)
"""
