"""Boltzmann machines: the RBM, its likelihoods, its labs, the deep Boltzmann machine and the conditional RBM.

    rbm               the Bernoulli RBM, a scikit-learn estimator (RBM, RBMConfig); fit runs core.training's loop
                      over FitSteps
    rbm_sampling      the RBM's Gibbs chains, reconstruction, inpainting, energies, likelihoods, live metrics
                      (RBMSampling, mixed into RBM)
    rbm_updates       the RBM's CD-k, PCD-k and FPCD-k updates and its epoch over mini-batches (RBMUpdates, mixed
                      into RBM)
    likelihood        exact log Z and log-likelihoods by enumerating the smaller layer
    ais               log Z by annealed importance sampling of RBMs and DBMs, its uncertainty (ESS) and convergence
    ais_base          AIS's base models: Bernoulli mixtures fit to the data or to a model's own Gibbs chains
    reverse_ais       RAISE: the conservative side of an RBM's held-out log-likelihood, and the sandwich
    rbm_lab           the RBM lab's runs (RBMSteps), one digit's energies, inpainting by rows
    algorithms        CD, PCD and FPCD compared on the same mini-batches (AlgorithmSteps)
    dbm_model         the two-layer deep Boltzmann machine itself (DBM, DBMConfig): mean field, sampling, AIS
    dbm               its training run, and an RBM trained for the same time (DBMSteps); scores, rescoring
    crbm              the conditional RBM of exercise sheet 10: exact p(y|x), three training modes side by side
                      (CRBMSteps)
    crbm_enumeration  the conditional RBM's identities by brute-force enumeration of a tiny model
    crbm_baselines    scikit-learn's classifiers on the conditional RBM's split (BaselineSteps)
"""
