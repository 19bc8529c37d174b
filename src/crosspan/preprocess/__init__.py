"""Preprocessing: plan (fingerprint), reorientation, resampling, normalization (z-score, Nyul standardization in
``nyul``), cache; and the offline paired-sequence pseudo-label step (``pairing/``, ``crosspan ssl pair``)."""
