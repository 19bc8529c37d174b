"""A trained run's folder: ``model.json`` (:class:`RunModel`), weights (``torch.load(weights_only=True)``) and the
method they rebuild (:func:`build_method`). Training writes the folder; inference and evaluation read it."""
