"""Data layer: image I/O, DICOM reading and ingestion, dataset layouts, catalog, checks, splits, transfer
protocols, export."""
