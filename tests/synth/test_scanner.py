"""Centers, user presets and the shift dial (overrides) of `crosspan synth`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from crosspan.cli.main import app
from crosspan.core.errors import CrosspanError
from crosspan.data.io import read_image
from crosspan.synth.scanner import apply_overrides, load_centers, parse_overrides, scan_geometry

runner = CliRunner()


def test_presets_differ_like_sites() -> None:
    centers = load_centers()
    assert len(centers) >= 4
    assert {c["field"] for c in centers.values()} == {1.5, 3.0}
    assert len({tuple(c["sequences"]["T1"]["spacing"]) for c in centers.values()}) >= 3
    assert len({c["snr"] for c in centers.values()}) >= 3
    for c in centers.values():
        assert {"T1", "T2", "OOP", "IP"} <= set(c["sequences"])
        field = c["field"]
        te_op = c["sequences"]["OOP"]["TE"]
        # opposed phase: TE an odd multiple of half the fat-water period (217 Hz at 1.5 T)
        cycles = te_op * 1e-3 * 3.4 * 42.577 * field
        assert abs(cycles - round(cycles - 0.5) - 0.5) < 0.15


def test_overrides_change_one_knob() -> None:
    centers = load_centers()
    ov = parse_overrides(["T1.TE=2.0", "scanner.snr=12", "B.T2.TR=1800", "T1.spacing=[3, 2, 2]"])
    assert ov["T1.TE"] == 2.0 and ov["T1.spacing"] == [3, 2, 2]
    new = apply_overrides(centers, ov)
    assert all(c["sequences"]["T1"]["TE"] == 2.0 and c["snr"] == 12 for c in new.values())
    assert new["B"]["sequences"]["T2"]["TR"] == 1800 and new["A"]["sequences"]["T2"]["TR"] != 1800
    assert centers["A"]["snr"] != 12  # the presets themselves are untouched
    assert scan_geometry(new["A"], "T1")["spacing"] == (3.0, 2.0, 2.0)
    with pytest.raises(CrosspanError):
        apply_overrides(centers, {"T9.TE": 1})
    with pytest.raises(CrosspanError):
        parse_overrides(["T1.TE"])


def test_overrides_file_and_user_centers(tmp_path: Path) -> None:
    f = tmp_path / "ov.yaml"
    f.write_text("T1:\n  TE: 2.2\nscanner.snr: 9\n")
    assert parse_overrides([], f) == {"T1.TE": 2.2, "scanner.snr": 9}
    sites = tmp_path / "sites.yaml"
    sites.write_text("SIEMENS15: {base: A, snr: 22, sequences: {T1: {TE: 2.0}}}\n")
    centers = load_centers(sites)
    assert centers["SIEMENS15"]["snr"] == 22 and centers["SIEMENS15"]["sequences"]["T1"]["TE"] == 2.0
    assert centers["SIEMENS15"]["sequences"]["T1"]["FA"] == centers["A"]["sequences"]["T1"]["FA"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("MY_SITE: {base: A}\n")
    with pytest.raises(CrosspanError):
        load_centers(bad)


def test_shift_dial_keeps_patients(tmp_path: Path) -> None:
    """Moving OOP.TE from opposed to in phase changes the image, not the anatomy or the label."""
    common = ["--patients", "1", "--centers", "A", "--sequences", "OOP", "--seed", "2", "--shape", "small"]
    for name, te in (("op", "2.3"), ("ip", "4.6")):
        res = runner.invoke(app, ["synth", "cohort", str(tmp_path / name), *common, "--set", f"OOP.TE={te}"])
        assert res.exit_code == 0, res.output
    rel = next((tmp_path / "op").rglob("labels/*.nii.gz")).relative_to(tmp_path / "op")
    lab_op, _ = read_image(tmp_path / "op" / rel)
    lab_ip, _ = read_image(tmp_path / "ip" / rel)
    assert np.array_equal(lab_op, lab_ip) and lab_op.sum() > 0
    img_rel = Path(str(rel).replace("labels", "images").replace(".nii.gz", "_0000.nii.gz"))
    op, _ = read_image(tmp_path / "op" / img_rel)
    ip, _ = read_image(tmp_path / "ip" / img_rel)
    fat_ratio = np.percentile(op, 99) / np.percentile(ip, 99)
    assert 0.7 < fat_ratio < 1.0  # fat darker at opposed phase (multi-peak spectrum)
    res = runner.invoke(app, ["synth", "centers"])
    assert res.exit_code == 0 and "snr 16" in res.output and "field 3.0 T" in res.output
