"""The numeric core: front end, Gaussian mixtures, HMMs, EM, adaptation, confidence, endpointing.

Arrays and frozen dataclasses in, new values out: no files, no printing, no
worker processes.  Shapes are time-major (``(n_frames, n_features)``) and
probabilities live in the log domain.
"""
