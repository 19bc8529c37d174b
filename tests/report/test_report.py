"""`crosspan report`: one self-contained HTML page with every figure, oracle/skipped marks, md/tex tables,
overlay montages from a catalog and a prediction folder; rendered in headless Chromium."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crosspan.cli.main import app
from crosspan.data.io import ImageProperties, write_image
from example_results import example_results

runner = CliRunner()
CHROMIUM = Path("/usr/bin/chromium")
CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CHECK_SCRIPT = """<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push('error: ' + (e.message || (e.target && (e.target.src
  ? e.target.src.slice(0, 60) : e.target.tagName)))), true);
window.addEventListener('unhandledrejection', e => window.__errors.push('rejection: ' + e.reason));
const __ce = console.error.bind(console);
console.error = (...a) => { window.__errors.push('console: ' + a.join(' ')); __ce(...a); };
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const bad = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt || i.src.slice(0, 40));
  const out = document.createElement('pre'); out.id = 'crosspan-check';
  out.textContent = JSON.stringify({images: imgs.length, bad: bad, errors: window.__errors});
  document.body.appendChild(out);
});
</script>"""


def _dataset(root: Path) -> tuple[Path, Path, pd.DataFrame]:
    """Six tiny cases (two domains), their labels, predictions (shifted labels) and a catalog CSV."""
    props = ImageProperties(shape=(12, 40, 40), spacing=(3.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0),
                            direction=(1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0))
    zz, yy, xx = np.mgrid[:12, :40, :40]
    g = np.random.default_rng(0)
    rows, cat = [], []
    pred_dir = root / "pred"
    for k, (center, seq) in enumerate([("U", "T1")] * 3 + [("U", "OOP")] * 3):
        cid = f"U{k % 3:02d}_{seq}"
        gt = (((zz - 6) / 4) ** 2 + ((yy - 20) / 9) ** 2 + ((xx - 20) / 7) ** 2 <= 1).astype(np.uint8)
        pred = np.roll(gt, shift=k, axis=2)
        img = (g.normal(100, 8, gt.shape) + 60.0 * gt * (1 if seq == "T1" else -1)).astype(np.float32)
        write_image(img, props, root / "img" / f"{cid}.nii.gz")
        write_image(gt, props, root / "lbl" / f"{cid}.nii.gz")
        write_image(pred, props, pred_dir / f"{cid}.nii.gz")
        dice = 2 * (gt & pred).sum() / (gt.sum() + pred.sum())
        cat.append({"case_id": cid, "patient_id": f"U{k % 3:02d}", "center": center, "sequence": seq,
                    "split": "test", "image": str(root / "img" / f"{cid}.nii.gz"),
                    "label": str(root / "lbl" / f"{cid}.nii.gz"), "shape_z": 12})
        rows.append({"case_id": cid, "patient_id": f"U{k % 3:02d}", "center": center, "sequence": seq,
                     "method": "unet", "run": "0", "seed": 0, "train_domains": "U:T1", "dice": dice,
                     "tolerance_mm": 2.0, "oracle": False})
    catalog = root / "catalog.csv"
    pd.DataFrame(cat).to_csv(catalog, index=False)
    return catalog, pred_dir, pd.DataFrame(rows)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report")
    catalog, pred_dir, own = _dataset(root)
    df = pd.concat([example_results(patients_per_center=6, seeds=3), own], ignore_index=True)
    df["status"] = "ok"
    skip = pd.DataFrame({"method": ["medsam2"], "status": ["skipped"], "reason": ["no checkpoint"]})
    results = root / "results.csv"
    pd.concat([df, skip], ignore_index=True).to_csv(results, index=False)
    out = root / "out" / "report.html"
    res = runner.invoke(app, ["report", str(results), "-o", str(out), "--catalog", str(catalog), "--pred-dir",
                              str(pred_dir), "--n-boot", "300"])
    assert res.exit_code == 0, res.output
    return out


def test_report_is_self_contained_with_all_figures(report: Path) -> None:
    page = report.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page) and "http" not in page
    imgs = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,', page)
    assert imgs == ["domain matrix heatmap", "per-domain box plots", "sample size curve",
                    "source vs target scatter", "ranking blob plot", "significance maps", "overlay montage"]
    assert "surface-distance" in page and "τ = 2 mm" in page
    assert page.count('<span class="badge oracle">oracle</span>') >= 4  # note + 3 transfer rows of promptseg
    assert "medsam2" in page and "Skipped methods" in page
    assert "Method: unet; 6 cases" in page  # montage: best / median / worst of both domains


def test_montage_picks_best_median_worst(tmp_path: Path) -> None:
    from crosspan.evaluation.stats import prepare_results
    from crosspan.report.montage import pick_cases

    _, pred_dir, own = _dataset(tmp_path)
    method, picks = pick_cases(prepare_results(own), pred_dir)
    t1 = picks[picks["domain"] == "U:T1"].set_index("pick")["case_id"]
    assert method == "unet" and list(t1.index) == ["best", "median", "worst"]
    assert (t1["best"], t1["median"], t1["worst"]) == ("U00_T1", "U01_T1", "U02_T1")  # shift 0, 1, 2 voxels


def test_report_markdown_and_latex_tables(report: Path) -> None:
    md = report.with_suffix(".md").read_text()
    tex = report.with_suffix(".tex").read_text()
    assert "## Dice by transfer type" in md and "| promptseg | cross-sequence |" in md
    # promptseg: 3 transfer types + 5 target domains; rankings: 3 transfer types; consensus: 3 + all targets
    assert md.count("| oracle |") == 3 + 5 + 3 + 4
    assert tex.count(r"\begin{tabular}") == 7 and tex.count(r"\begin{table}") == tex.count(r"\end{table}")
    assert "cross-sequence & " in tex


def _chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(CHROMIUM), *CHROME_FLAGS, f"--user-data-dir={tmp / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)


def _render_check(page: Path, tmp: Path) -> tuple[dict, list[str]]:
    """Load a copy of ``page`` with an injected checker; return its verdict and console error lines."""
    probe = tmp / "probe.html"
    probe.write_text(page.read_text().replace("<head>", "<head>" + CHECK_SCRIPT, 1))
    run = _chromium(["--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", "--dump-dom",
                     probe.as_uri()], tmp)
    found = re.search(r'<pre id="crosspan-check">(.*?)</pre>', run.stdout, re.S)
    assert found, f"checker did not run: {run.stderr[-2000:]}"
    console = [ln for ln in run.stderr.splitlines() if "CONSOLE" in ln and ("rror" in ln or "Uncaught" in ln)]
    return json.loads(html.unescape(found.group(1))), console


def _need_chromium() -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("/usr/bin/chromium is missing in CI: install Debian's `chromium` package")
        pytest.skip("/usr/bin/chromium not installed (apt-get install chromium); required when CI is set")


def test_report_renders_in_chromium(report: Path, tmp_path: Path) -> None:
    _need_chromium()
    verdict, console = _render_check(report, tmp_path)
    assert verdict["images"] == 7 and verdict["bad"] == [] and verdict["errors"] == [], verdict
    assert console == []


def test_chromium_check_catches_broken_page(tmp_path: Path) -> None:
    """The checker itself must fail on a broken image and a script error."""
    _need_chromium()
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head></head><body><img alt="broken" src="data:image/png;base64,AAAA">'
                   "<script>undefinedFunction();</script></body></html>")
    verdict, _ = _render_check(bad, tmp_path)
    assert verdict["bad"] == ["broken"] and any("undefinedFunction" in e for e in verdict["errors"])


def test_report_bad_input_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"case_id": ["x"], "dice": [0.5]}).to_csv(bad, index=False)
    out = tmp_path / "r" / "report.html"
    res = runner.invoke(app, ["report", str(bad), "-o", str(out)])
    assert res.exit_code == 2 and "bad.csv" in res.output and "method" in res.output
    assert not out.exists() and not out.with_suffix(".md").exists()
