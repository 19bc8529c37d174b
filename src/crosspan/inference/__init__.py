"""Inference: a run (or a zero-shot model) on new scans: cases in (``inputs``), preprocess -> whole-volume
prediction (:mod:`crosspan.methods.sliding`, or the two-pass ``roi``) -> back to source geometry -> post-processing
(``pipeline``, ``postprocess``), masks out (``predict``, ``zeroshot``)."""
