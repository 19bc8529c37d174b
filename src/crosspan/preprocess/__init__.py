"""Preprocessing: plan (fingerprint), reorientation, resampling, normalization, cache."""
