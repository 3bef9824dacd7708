"""Helpers shared across families: input checks, wording, atomic writes, threads.

Also the one module that speaks scikit-learn's callback API.

Imports no torch.
"""
