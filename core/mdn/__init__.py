"""Mixture density networks (Bishop 1994): the toy problems and their Bayes limit, the three models,
the sheet's gradients, and the run kind that trains the models side by side."""
