"""Command-line interface: one module per command group, assembled in :mod:`crosspan.cli.main`."""
