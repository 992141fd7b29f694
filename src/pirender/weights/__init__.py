"""Weights in and out: our model directories and the official PIRender checkpoints."""
