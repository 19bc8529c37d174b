"""Packaged whole-abdomen MRI segmenters run zero-shot: MRSegmentator (Häntze et al., Radiology: AI 2025) and
TotalSegmentator MRI's ``total_mr`` task (D'Antonoli et al., Radiology 2025).

Each package's own inference runs through its command line on one scan at a time, from the environment the
package is installed in (this one, or a side environment named with ``--hp cli=/path/to/bin/NAME``), with the
weights folder the user gives (``--hp weights=DIR``; nothing is downloaded: the package's weights variable points
at DIR and TotalSegmentator's usage statistics are switched off). The organ map comes back in the input's
geometry; the pancreas label (:mod:`crosspan.methods.foundation.organ_table`) becomes the mask. What differs from
the packages' defaults: nothing in the model; one scan a call, CPU threads as crosspan's ``--threads``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

from crosspan.core.errors import CrosspanError
from crosspan.methods.base import ZeroShotModel, register_method, resolve_hparams
from crosspan.methods.foundation.organ_table import ORGAN_MODELS, OrganModel, weights_fix, weights_problem
from crosspan.methods.hparams import Bound


def find_cli(model: OrganModel, cli: str = "") -> Path | None:
    """The package's console script: ``cli`` when given, else beside this Python, else on ``PATH``."""
    if cli:
        return Path(cli) if Path(cli).is_file() else None
    beside = Path(sys.executable).parent / model.cli
    if beside.is_file():
        return beside
    found = shutil.which(model.cli)
    return Path(found) if found else None


def package_version(model: OrganModel, cli: Path) -> str:
    """The installed version, asked of the Python that owns ``cli`` (a side environment's, possibly)."""
    python = cli.parent / "python"
    exe = str(python) if python.is_file() else sys.executable
    code = f"import importlib.metadata as m; print(m.version({model.package!r}))"
    res = subprocess.run([exe, "-c", code], capture_output=True, text=True, timeout=120)
    return res.stdout.strip() if res.returncode == 0 else "unknown"


class OrganSegmenter(ZeroShotModel):
    """An automatic (prompt-free) zero-shot method: a packaged organ segmenter whose pancreas is the mask."""

    model_key: ClassVar[str] = ""
    #: ``crosspan/synth/label_presets/<name>.yaml``: its organ labels as tissue classes (`crosspan synth labelmaps`)
    label_preset: ClassVar[str] = ""

    def __init__(self, hparams: dict[str, Any] | None = None, device: str = "cpu") -> None:
        super().__init__(hparams, device)
        missing = type(self).missing(self.hparams)
        if missing:
            raise CrosspanError(self.hparams.get("weights") or None, *missing)
        self.cli = find_cli(self.model, str(self.hparams["cli"]))
        assert self.cli is not None  # missing() checked it

    @property
    def model(self) -> OrganModel:
        return ORGAN_MODELS[self.model_key]

    @classmethod
    def missing(cls, hparams: dict[str, Any] | None = None) -> tuple[str, str] | None:
        """``(what is missing, how to fix it)`` for the weights or the package's command; ``None``: both there."""
        hp = resolve_hparams(cls, hparams)
        model = ORGAN_MODELS[cls.model_key]
        problem = weights_problem(model, str(hp["weights"]), int(hp.get("fold", 0)))
        if problem:
            return problem, weights_fix(model)
        if find_cli(model, str(hp["cli"])) is None:
            where = f"{hp['cli']} not found" if hp["cli"] else f"package {model.package} not installed here"
            return where, f"install {model.package}=={model.version} in {model.install}; give --hp cli=PATH to " \
                          f"its {model.cli} command"
        return None

    @classmethod
    def unavailable_reason(cls, hparams: dict[str, Any] | None = None) -> str | None:
        missing = cls.missing(hparams)
        return f"{missing[0]} ({missing[1]})" if missing else None

    def command(self, image: Path, out_dir: Path) -> tuple[list[str], Path]:
        """The package's command line for one scan and the organ map it writes."""
        raise NotImplementedError

    def environment(self, work: Path) -> dict[str, str]:
        """The package's weights variable at the user's folder; nnU-Net's path variables at a scratch folder."""
        env = dict(os.environ)
        env[self.model.weights_env] = str(Path(str(self.hparams["weights"])).resolve())
        for var in ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results"):
            env.setdefault(var, str(work))
        import torch

        env["OMP_NUM_THREADS"] = str(torch.get_num_threads())
        return env

    def segment_file(self, image: Path, work: Path) -> Path:
        """Run the package on the NIfTI ``image``; returns its organ map (``work`` is a scratch folder)."""
        out_dir = work / "out"
        out_dir.mkdir(parents=True, exist_ok=True)
        cmd, organ_map = self.command(image, out_dir)
        res = subprocess.run(cmd, env=self.environment(work), capture_output=True, text=True)
        if res.returncode != 0 or not organ_map.is_file():
            tail = " | ".join((res.stderr or res.stdout).strip().splitlines()[-3:])
            raise CrosspanError(str(image), f"{self.model.cli} failed (exit {res.returncode}): {tail}",
                                f"run it by hand: {' '.join(cmd)}")
        return organ_map


def _cuda(device: str) -> bool:
    return device.startswith("cuda")


@register_method
class MRSegmentator(OrganSegmenter):
    """MRSegmentator (nnU-Net v2, 40 classes); ``fold=-1`` ensembles every fold as the package does."""

    name: ClassVar[str] = "mrsegmentator"
    model_key: ClassVar[str] = "mrsegmentator"
    label_preset: ClassVar[str] = "mrsegmentator"
    paper: ClassVar[str] = ORGAN_MODELS["mrsegmentator"].paper
    default_hparams: ClassVar[dict[str, Any]] = {"weights": "", "cli": "", "fold": -1, "save_organs": False}
    hparam_bounds: ClassVar[dict[str, Bound]] = {"fold": Bound(-1, 4)}  # -1: every fold

    def command(self, image: Path, out_dir: Path) -> tuple[list[str], Path]:
        cmd = [str(self.cli), "-i", str(image), "--outdir", str(out_dir), "--postfix", "seg",
               "--batchsize", "1", "--nproc", "1", "--nproc_export", "1"]
        if int(self.hparams["fold"]) >= 0:
            cmd += ["--fold", str(int(self.hparams["fold"]))]
        if not _cuda(self.device):
            cmd.append("--cpu_only")
        stem = image.name[: -len(".nii.gz")] if image.name.endswith(".nii.gz") else image.stem
        return cmd, out_dir / f"{stem}_seg.nii.gz"


@register_method
class TotalSegmentatorMR(OrganSegmenter):
    """TotalSegmentator's ``total_mr`` (two nnU-Net parts, 50 classes, run at 1.5 mm)."""

    name: ClassVar[str] = "totalseg-mr"
    model_key: ClassVar[str] = "totalseg-mr"
    label_preset: ClassVar[str] = "totalseg-mr"
    paper: ClassVar[str] = ORGAN_MODELS["totalseg-mr"].paper
    default_hparams: ClassVar[dict[str, Any]] = {"weights": "", "cli": "", "save_organs": False}

    def environment(self, work: Path) -> dict[str, str]:
        """Also a private TotalSegmentator home whose config turns usage statistics off (no network)."""
        env = super().environment(work)
        home = work / "totalseg_home"
        home.mkdir(parents=True, exist_ok=True)
        (home / "config.json").write_text(json.dumps({"totalseg_id": "crosspan", "send_usage_stats": False,
                                                      "statistics_disclaimer_shown": True,
                                                      "prediction_counter": 0}))
        env["TOTALSEG_HOME_DIR"] = str(home)
        return env

    def command(self, image: Path, out_dir: Path) -> tuple[list[str], Path]:
        out = out_dir / "organs.nii.gz"
        device = "gpu" + self.device[len("cuda"):] if _cuda(self.device) else "cpu"
        return [str(self.cli), "-i", str(image), "-o", str(out), "--ml", "--task", "total_mr", "--device", device,
                "--nr_thr_resamp", "1", "--nr_thr_saving", "1", "--quiet"], out


__all__ = ["MRSegmentator", "OrganSegmenter", "TotalSegmentatorMR", "find_cli", "package_version"]
