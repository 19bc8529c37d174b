"""A zero-shot method that cannot run here (MedSAM2 without its checkpoint) is marked skipped with its reason:
the run completes, the other jobs run as usual, and status, collect and the HTML report all show the reason."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pandas as pd
import yaml
from typer.testing import CliRunner

from crosspan.bench.jobs import SKIPPED, build_plan, job_status, read_events, skip_note
from crosspan.bench.spec import load_spec
from crosspan.cli.main import app
from crosspan.inference.zeroshot import skip_reason
from tests.bench.test_standin import write_spec

runner = CliRunner()
NO_CKPT = "no MedSAM2 checkpoint"

# The stand-in, except that `evaluate` tables get the columns `crosspan report` needs and `report` is the real one.
WRAPPER = textwrap.dedent(r'''
    import csv, os, subprocess, sys
    argv = sys.argv[1:]
    if argv[0] == "report":
        sys.exit(subprocess.call([sys.executable, "-c", "from crosspan.cli.main import app; app()", *argv,
                                  "--n-boot", "100"]))
    rc = subprocess.call([sys.executable, STANDIN, *argv])
    if rc == 0 and argv[0] == "evaluate":
        out = argv[argv.index("-o") + 1]
        with open(out) as fh:
            rows = list(csv.DictReader(fh))
        for r in rows:
            r.update(patient_id=r["case_id"].split("_")[0], center="A", sequence=r["case_id"].split("_")[1],
                     train_domains="A:T1")
        tmp = out + ".tmp"
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0])); w.writeheader(); w.writerows(rows)
        os.replace(tmp, out)
    sys.exit(rc)
''')


def _spec(tmp_path: Path, medsam2_hp: dict | None = None) -> Path:
    path = write_spec(tmp_path, seeds=1, steps=1)
    spec = yaml.safe_load(path.read_text())
    wrapper = tmp_path / "wrapper.py"
    wrapper.write_text(f"STANDIN = {spec['executable'][1]!r}\n" + WRAPPER)
    spec["executable"] = [sys.executable, str(wrapper)]
    spec["methods"] = [{"name": "erm", "method": "erm"},
                       {"name": "medsam2", "method": "medsam2", "zero_shot": True, "hp": medsam2_hp or {}}]
    path.write_text(yaml.safe_dump(spec))
    return path


def _text(res) -> str:  # noqa: ANN001 - click Result
    """The command's output with rich's line wrapping undone."""
    return " ".join(res.output.split())


def _jobs(spec: Path) -> dict:
    return {j.info["method"]: j for j in build_plan(load_spec(spec)).method_jobs}


def test_medsam2_without_checkpoint_is_skipped_with_reason(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    ledger = tmp_path / "ledger.txt"
    monkeypatch.setenv("STANDIN_LEDGER", str(ledger))
    spec = _spec(tmp_path)
    res = runner.invoke(app, ["benchmark", "run", str(spec)])
    assert res.exit_code == 0, res.output
    jobs = _jobs(spec)
    erm, ms2 = jobs["erm"], jobs["medsam2"]
    assert job_status(erm) == "done" and job_status(ms2) == "skipped"
    assert NO_CKPT in skip_note(ms2)
    last = read_events(ms2)[-1]
    assert last["event"] == "skipped" and NO_CKPT in last["reason"]
    calls = ledger.read_text()
    assert str(ms2.path) not in calls and "predict" in calls  # medsam2 never predicted; erm did
    assert "skipped:" in _text(res) and NO_CKPT in _text(res)  # the run says so, then collects

    table = pd.read_csv(load_spec(spec).output / "results.csv")
    skip = table[table["status"].eq("skipped")]
    assert list(skip["method"]) == ["medsam2"] and NO_CKPT in skip["reason"].iloc[0]
    assert len(table[table["method"] == "erm"]) == 3  # the other job's rows are all there
    page = (load_spec(spec).output / "report.html").read_text()
    assert "Skipped methods" in page and NO_CKPT in page

    res = runner.invoke(app, ["benchmark", "status", str(spec), "-o", str(tmp_path / "status.csv")])
    assert res.exit_code == 0, res.output
    status = pd.read_csv(tmp_path / "status.csv").set_index("id")
    assert status.loc[ms2.id, "status"] == "skipped" and NO_CKPT in status.loc[ms2.id, "note"]
    assert status.loc[erm.id, "status"] == "done"
    res = runner.invoke(app, ["benchmark", "collect", str(spec), "--no-report"])
    assert res.exit_code == 0 and NO_CKPT in _text(res) and "results: 3 rows from 1 job(s)" in _text(res)

    before = ledger.read_text()
    res = runner.invoke(app, ["benchmark", "run", str(spec), "--no-collect"])
    assert res.exit_code == 0, res.output
    assert job_status(ms2) == "skipped" and ledger.read_text() == before  # nothing re-ran, still skipped


def test_skip_is_checked_again_once_the_checkpoint_exists(tmp_path: Path) -> None:
    ckpt = tmp_path / "MedSAM2.pt"
    spec = _spec(tmp_path, {"checkpoint": str(ckpt)})
    res = runner.invoke(app, ["benchmark", "run", str(spec), "--no-collect"])
    assert res.exit_code == 0, res.output
    ms2 = _jobs(spec)["medsam2"]
    assert job_status(ms2) == "skipped" and NO_CKPT in skip_note(ms2)
    ckpt.write_bytes(b"weights")  # the user adds the checkpoint; the spec is unchanged
    reason = skip_reason("medsam2", {"checkpoint": str(ckpt)})
    res = runner.invoke(app, ["benchmark", "run", str(spec), "--no-collect"])
    assert res.exit_code == 0, res.output
    if reason is None:  # sam2 installed: the job runs now (here on the stand-in)
        assert job_status(ms2) == "done" and not (ms2.path / SKIPPED).exists()
        assert json.loads((ms2.path / "steps" / "predict.done").read_text())["returncode"] == 0
    else:  # sam2 missing: skipped for that reason instead
        assert job_status(ms2) == "skipped" and skip_note(ms2) == reason
