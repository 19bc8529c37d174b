"""Data layer: image I/O, dataset layouts, catalog, checks, transfer protocols, export."""
