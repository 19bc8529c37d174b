"""A stand-in ``crosspan`` for benchmark tests: same command lines, tiny outputs, resumable training that sleeps.

Every invocation appends ``<phase> <subcommand> <output>`` to ``$STANDIN_LEDGER``; ``$STANDIN_FAIL`` makes any
command line containing that text exit 3; ``$STANDIN_SLEEP`` is the time per training step;
``$STANDIN_ENVLOG`` records each command's CUDA_VISIBLE_DEVICES and OMP_NUM_THREADS.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

from crosspan.bench.jobs import DONE, Job, step_marker

STANDIN = textwrap.dedent(r'''
    import csv, json, os, sys, time, zlib
    from pathlib import Path

    argv = sys.argv[1:]
    def opt(name, default=None):
        return argv[argv.index(name) + 1] if name in argv else default
    def atomic(path, text):
        path = Path(path); path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name("." + path.name + ".tmp"); tmp.write_text(text); os.replace(tmp, path)
    cmd = " ".join(argv[:2]) if argv[0] in ("synth", "data", "ssl") else argv[0]
    out = argv[2] if cmd == "synth cohort" else opt("-o")
    ledger = os.environ.get("STANDIN_LEDGER")
    if ledger:
        with open(ledger, "a") as fh:
            fh.write(f"{os.environ.get('STANDIN_PHASE', '-')} {cmd} {out}\n")
    if os.environ.get("STANDIN_ENVLOG"):
        with open(os.environ["STANDIN_ENVLOG"], "a") as fh:
            fh.write(f"{cmd}\t{os.environ.get('CUDA_VISIBLE_DEVICES', '-')}\t{os.environ.get('OMP_NUM_THREADS')}\n")
    if os.environ.get("STANDIN_FAIL") and os.environ["STANDIN_FAIL"] in " ".join(argv):
        print("stand-in failure", file=sys.stderr); sys.exit(3)
    cases = ["p0_T1", "p1_T2", "p2_OOP"]
    sleep = float(os.environ.get("STANDIN_SLEEP", "0"))
    if cmd == "synth cohort":
        atomic(Path(out) / "manifest.csv", "case_id\n" + "\n".join(cases) + "\n")
    elif cmd == "data catalog":
        atomic(out, "case_id,center,sequence\n" + "\n".join(f"{c},A,{c.split('_')[1]}" for c in cases) + "\n")
    elif cmd == "data splits":
        atomic(out, json.dumps({"protocol": opt("-p"), "splits": [{"name": "split0", "test": cases}]}))
    elif cmd == "ssl pair":
        atomic(Path(out) / "catalog.csv", "case_id,pseudo_label\n")
        atomic(Path(out) / "splits_paired.json", json.dumps({"splits": [{"name": "split0"}]}))
    elif cmd == "ssl true-labels":
        atomic(out, Path(argv[2]).read_text())
    elif cmd == "preprocess":
        atomic(Path(out) / "plan.json", json.dumps({"splits": opt("--splits")}))
    elif cmd == "train":
        run = Path(out); run.mkdir(parents=True, exist_ok=True)
        ckpt = run / "checkpoint.json"
        start = json.loads(ckpt.read_text())["step"] if ckpt.exists() and "--resume" in argv else 0
        for step in range(start + 1, int(opt("--steps")) + 1):
            time.sleep(sleep)
            with open(run / "train.log", "a") as fh:
                fh.write(f"{step}\n")
            atomic(ckpt, json.dumps({"step": step}))
        atomic(run / "final.json", json.dumps({"steps": int(opt("--steps"))}))
    elif cmd == "predict":
        for c in cases:
            atomic(Path(out) / f"{c}.nii.gz", "mask")
    elif cmd == "evaluate":
        time.sleep(sleep)
        rows = [f"{c},{c.split('_')[0]},A,{c.split('_')[1]},{opt('--method')},{opt('--run')},{opt('--seed')},"
                f"{(zlib.crc32((c + opt('--run') + (opt('--cases') or '')).encode()) % 1000) / 1000:.3f}"
                for c in cases]
        atomic(out, "case_id,patient_id,center,sequence,method,run,seed,dice\n" + "\n".join(rows) + "\n")
    elif cmd == "report":
        atomic(out, "<html>report of " + argv[1] + "</html>")
    else:
        print(f"stand-in: unknown command {argv}", file=sys.stderr); sys.exit(2)
''')


def write_standin(folder: Path) -> list[str]:
    """Write the stand-in script; returns the spec ``executable`` that runs it."""
    path = folder / "fake_crosspan.py"
    path.write_text(STANDIN)
    return [sys.executable, str(path)]


def write_spec(folder: Path, seeds: int = 3, steps: int = 4, executor: dict | None = None, **extra: object) -> Path:
    """A spec with a synthetic cohort, one protocol, ERM + a zero-shot method, ``seeds`` seeds."""
    spec = {"name": "toy", "output": "out", "dataset": {"synthetic": {"patients": 3, "centers": 1, "shape": "small"}},
            "protocols": [{"name": "xseq", "protocol": "cross-sequence", "train": ["A:T1"]}],
            "methods": [{"name": "erm", "method": "erm", "hp": {"lr": 0.01}},
                        {"name": "zs", "method": "medsam", "zero_shot": True}],
            "seeds": list(range(seeds)), "training": {"steps": steps},
            "executor": executor or {"kind": "local", "jobs": 2},
            "executable": write_standin(folder), **extra}
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_standin_train_resumes(tmp_path: Path) -> None:
    exe = write_standin(tmp_path)
    run = tmp_path / "run"
    args = ["train", "plan", "-o", str(run), "--steps", "3", "--resume"]
    subprocess.run([*exe, *args], check=True)
    assert (run / "train.log").read_text().split() == ["1", "2", "3"]
    subprocess.run([*exe, *[a if a != "3" else "5" for a in args]], check=True)
    assert (run / "train.log").read_text().split() == ["1", "2", "3", "4", "5"]


def mark_done(job: Job) -> None:
    """Write what a finished run leaves: every step's marker, then the job's ``done``."""
    for step in job.steps:
        step_marker(job, step).parent.mkdir(parents=True, exist_ok=True)
        step_marker(job, step).write_text("{}")
    job.path.mkdir(parents=True, exist_ok=True)
    (job.path / DONE).write_text("{}")
