"""Boltzmann machines: the RBM (`rbm`), exact and AIS likelihoods (`likelihood`, `ais`), the RBM lab's runs
(`rbm_lab`), CD/PCD/FPCD compared (`algorithms`) and the two-layer deep Boltzmann machine (`dbm`)."""
