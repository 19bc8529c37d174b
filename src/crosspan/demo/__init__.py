"""The one-command demo: a small synthetic benchmark run through the benchmark machinery."""
