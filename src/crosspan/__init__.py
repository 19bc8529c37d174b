"""crosspan: cross-sequence and cross-center generalization of MRI pancreas segmentation.

One folder a stage, read top-down in the order imports may point (each imports only from those before it;
``tests/test_architecture.py`` checks it): core -> data -> synth -> models -> preprocess -> transforms ->
methods -> runs -> training -> inference -> evaluation -> annotate -> report -> bench -> demo -> cli.
"""

__version__ = "0.1.0"
