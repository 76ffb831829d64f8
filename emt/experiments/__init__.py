"""Experiments: sweeps of train + verify jobs (Dask), aggregation, and the paper's reproduction.

Builds on every layer below it (theory, numerics, verify); nothing below imports it.
"""
