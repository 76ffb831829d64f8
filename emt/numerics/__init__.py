"""Numerical layer: task data, TensorFlow models and training, numpy simulation, GSEMM ODEs.

TensorFlow is imported only by the modules that need it (model, train), never at package import.
"""
