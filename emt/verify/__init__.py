"""Verification layer: privileged basis, spectral comparison, checks, reports and the `emt` CLI.

TensorFlow is imported only inside the function that reads a Keras model file.
"""
