"""Annotation protocol support (PancreasDG's double-blind, two-pass, adjudicated masks): assign, compare,
adjudicate, consensus."""
