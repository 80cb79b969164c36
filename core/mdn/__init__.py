"""Mixture density networks (Bishop 1994).

    problems   the toy problems (Bishop's inverse problem, a noisy sinusoid), uploads split into pairs, and the
               Bayes limit of each from its exact conditional
    models     the three conditional models (least squares, a Gaussian, the MDN) and the sheet's gradients
    lab        the run kind that trains the three side by side (MDNSteps) and a finished run's models (Fitted)
"""
