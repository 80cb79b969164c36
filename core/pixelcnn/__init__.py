"""PixelCNN: an autoregressive model of binary images with an exact likelihood and slow, pixel-by-pixel sampling.

    model   masked convolutions (mask A, mask B), the network, the exact NLL, sampling, completion, receptive field
    run     the lab's run kind (PixelCNNRun, PixelCNNSteps; shipped in assets/pixelcnn) and what a page or the
            scoreboard asks of a run: model(result), heldout_nll(model, X_binary), sample(model, n, generator)
"""
