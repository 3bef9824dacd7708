"""Helpers shared across families: input checks, wording, atomic writes, progress.

Imports no torch.
"""
