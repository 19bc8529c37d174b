"""Domain-generalization methods in 3D, one small module each, registered with ``@register_method``.

Intensity augmentations (``bigaug``, ``randconv``, ``gin``, ``gin-ipa``, ``contrast-inversion``, ``slaug``,
``dualnorm``) run on the training device as batched torch operations inside ``update`` only; feature-statistics
methods (``mixstyle``, ``dsu``) act through forward hooks in training mode only; ``groupdro`` and ``vrex`` work
over the true training domains (center x sequence).
Nyul histogram standardization is a preprocessing option (:mod:`crosspan.preprocess.nyul`).
"""
