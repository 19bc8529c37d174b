"""DDP through torchrun on CPU (gloo, 2 processes): ranks stay in sync, rank 0 alone writes the run folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crosspan.preprocess.run import preprocess
from toy_scans import toy_dataset

# each rank writes its own result file: the ranks' stdout share one pipe and their lines can interleave
SCRIPT = """
import sys, torch
from pathlib import Path
from crosspan.training.loop import TrainConfig, train
torch.set_num_threads(1)
res = train(TrainConfig(sys.argv[1], sys.argv[2], steps=4, patch=[16, 16, 16], progress=False, ckpt_every=2))
line = f"RANK {res['rank']} WORLD {res['world_size']} STEPS {res['steps']} SUM {res['weights_checksum']:.10e}"
Path(sys.argv[3], f"rank{res['rank']}.txt").write_text(line)
"""


@pytest.mark.slow
def test_ddp_two_processes_gloo(tmp_path: Path) -> None:
    cat = toy_dataset(tmp_path / "data", n=4, shape=(24, 28, 28), splits=("train", "train", "train", "val"))
    preprocess(cat, tmp_path / "plan", progress=False)
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29561"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    res = subprocess.run([*torchrun, str(script), str(tmp_path / "plan"), str(tmp_path / "run"), str(tmp_path)],
                         env=env, capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr[-2000:]
    lines = sorted(p.read_text() for p in tmp_path.glob("rank*.txt"))
    assert [x.split(" SUM ")[0] for x in lines] == ["RANK 0 WORLD 2 STEPS 4", "RANK 1 WORLD 2 STEPS 4"]
    assert lines[0].split(" SUM ")[1] == lines[1].split(" SUM ")[1]  # gradients averaged: weights in sync
    rows = (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    assert len(rows) == 4  # rank 0 only
    assert (tmp_path / "run" / "model_final.pt").is_file()
