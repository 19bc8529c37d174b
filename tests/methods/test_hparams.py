"""Hyperparameter overrides from the command line get the type of their default."""

from __future__ import annotations


def test_bool_hyperparameters_parse_false_as_false() -> None:
    import pytest

    from crosspan.core.errors import CrosspanError
    from crosspan.methods.base import Method, resolve_hparams

    class Probe(Method):
        name = "probe"
        default_hparams = {"flag": True, "p": 0.5}

    assert resolve_hparams(Probe, {"flag": "false", "p": "0.25"}) == {"flag": False, "p": 0.25}
    assert resolve_hparams(Probe, {"flag": "1"})["flag"] is True
    with pytest.raises(CrosspanError, match="expects float"):
        resolve_hparams(Probe, {"p": "high"})
