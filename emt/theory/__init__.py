"""Symbolic layer of the EMT suite: GSEMM, the reduction to an RNN, tasks and the binding circuit.

Imports sympy and numpy only (never TensorFlow).
"""
