"""The exact ``crosspan`` command lines a benchmark runs: the one module to align with the real CLIs.

Every function returns the arguments after the executable (``crosspan`` by default; a spec's ``executable``
replaces it, e.g. ``[apptainer, exec, crosspan.sif, crosspan]``). Paths are absolute strings.
"""

from __future__ import annotations

from crosspan.bench.datasets import Synthetic
from crosspan.bench.spec import MethodSpec, ProtocolEntry, Training


def ratio_tag(ratio: float) -> str:
    """0.1 -> ``r10``; 1.0 -> ``r100``."""
    return f"r{int(round(ratio * 100))}"


def split_names(protocol: ProtocolEntry) -> list[tuple[str, str, float]]:
    """Names of the splits ``crosspan data splits`` writes (mirrors :mod:`crosspan.data.protocols`): ``fold<i>``
    for in-domain, ``split0`` for cross-center / cross-sequence, ``official``; ``-r<pct>`` below 100 % labels.
    A protocol's ``splits`` list restricts the base names. Returns (name, base name, label ratio) triples."""
    if protocol.splits:
        bases = list(protocol.splits)
    elif protocol.protocol == "in-domain":
        bases = [f"fold{i}" for i in range(protocol.folds)]
    elif protocol.protocol == "official":
        bases = ["official"]
    else:
        bases = ["split0"]
    return [(b if r >= 1.0 else f"{b}-{ratio_tag(r)}", b, r) for b in bases for r in protocol.label_ratios]


def synth_cohort(output: str, syn: Synthetic) -> list[str]:
    args = ["synth", "cohort", output, "--patients", str(syn.patients),
            *(["--centers", ",".join(syn.centers)] if syn.centers else []),  # none: the profile's centers
            "--sequences", ",".join(syn.sequences), "--seed", str(syn.seed), "--shape", syn.shape]
    if syn.profile != "default":
        args += ["--profile", syn.profile]
    for item in syn.set:
        args += ["--set", item]
    if syn.tissue_maps:
        args.append("--tissue-maps")
    return args


def catalog(dataset: str, output: str, domains: tuple[str, ...] = ()) -> list[str]:
    """``domains`` (CENTER:SEQ patterns): keep only those scans."""
    return ["data", "catalog", dataset, "-o", output, *(["--domains", ",".join(domains)] if domains else [])]


def splits(catalog_csv: str, protocol: ProtocolEntry, output: str) -> list[str]:
    args = ["data", "splits", catalog_csv, "-p", protocol.protocol, "--train", ",".join(protocol.train),
            "--targets", ",".join(protocol.targets),
            "--label-ratios", ",".join(f"{r:g}" for r in protocol.label_ratios),
            "--seed", str(protocol.seed), "-o", output]
    if protocol.unlabeled:
        args += ["--unlabeled", ",".join(protocol.unlabeled)]
    if protocol.protocol == "in-domain":
        args += ["--folds", str(protocol.folds)]
    if protocol.val_fraction is not None:
        args += ["--val-fraction", f"{protocol.val_fraction:g}"]
    if protocol.test_fraction is not None:
        args += ["--test-fraction", f"{protocol.test_fraction:g}"]
    if protocol.training_input != "images":
        args += ["--training-input", protocol.training_input]
    return args


def preprocess(data: str, plan_dir: str, splits_json: str, fold: int,
               spacing: tuple[float, float, float] | None = None) -> list[str]:
    """One plan a split (``--fold`` is the split's index in the splits JSON); only that split's cases cached;
    ``spacing`` (z, y, x mm) forces the plan's target spacing."""
    return ["preprocess", data, "-o", plan_dir, "--splits", splits_json, "--fold", str(fold), "--cases", "split",
            *(["--spacing", ",".join(f"{v:g}" for v in spacing)] if spacing else [])]


def ssl_pair(catalog_csv: str, splits_json: str, fold: int, output: str, seed: int) -> list[str]:
    """Transported pseudo-labels of one split (``crosspan ssl pair``): OUT/catalog.csv, OUT/splits_paired.json."""
    return ["ssl", "pair", catalog_csv, "--splits", splits_json, "--fold", str(fold), "-o", output, "--seed",
            str(seed)]


def ssl_true_labels(paired_catalog: str, output: str) -> list[str]:
    """The upper bound's catalog: every pseudo-label replaced by the scan's true label, weight 1."""
    return ["ssl", "true-labels", paired_catalog, "-o", output]


def hp_args(hp: dict[str, object]) -> list[str]:
    out: list[str] = []
    for key in sorted(hp):
        out += ["--hp", f"{key}={hp[key]}"]
    return out


def train(plan_dir: str, run_dir: str, method: MethodSpec, training: Training, seed: int, device: str) -> list[str]:
    """The plan folder fixes the split's cases; ``--resume`` makes a restarted step continue from its checkpoint."""
    args = ["train", plan_dir, "-o", run_dir, "--method", method.method, "--network",
            method.network or training.network, "--steps", str(method.steps or training.steps), "--seed", str(seed),
            *hp_args(method.hp), "--device", device, "--resume"]
    if training.amp != "none":
        args += ["--amp", training.amp]
    if training.batch_size:
        args += ["--batch-size", str(training.batch_size)]
    if training.patch:
        args += ["--patch", ",".join(map(str, training.patch))]
    if training.eval_every:
        args += ["--eval-every", str(training.eval_every)]
        args += ["--eval-domains", ",".join(training.eval_domains)] if training.eval_domains else []
    return args


def predict(run_dir: str | None, data: str, pred_dir: str, method: MethodSpec, splits_json: str, fold: int,
            device: str) -> list[str]:
    """The split's test cases (``--fold`` is the split's index, as for preprocess). Trained methods predict from
    their run folder; zero-shot methods name the method instead (an assumed interface until foundation models
    land)."""
    head = ["predict", run_dir] if run_dir else ["predict", "--method", method.method, *hp_args(method.hp)]
    fold_args = ["--fold", str(fold)] if fold else []
    return [*head, data, "-o", pred_dir, "--splits", splits_json, *fold_args, "--cases", "test", "--device", device]


def predict_all(run_dir: str | None, data: str, pred_dir: str, method: MethodSpec, device: str) -> list[str]:
    """Every scan of a test dataset's catalog (a run folder's model, or a zero-shot method)."""
    head = ["predict", run_dir] if run_dir else ["predict", "--method", method.method, *hp_args(method.hp)]
    return [*head, data, "-o", pred_dir, "--cases", "all", "--device", device]


def evaluate(data: str, pred_dir: str, method: str, run: str, seed: int, splits_json: str, split: str,
             tolerance: float, output: str, oracle: bool = False, cases: str = "test") -> list[str]:
    """``oracle``: the predictions used ground-truth-derived prompts (or training saw the target's labels); every
    result row is marked so. ``cases="all"``: every labelled scan of ``data`` (a test dataset), scored against the
    training domains of ``split``."""
    return ["evaluate", data, "--pred", pred_dir, "--method", method, "--run", run, "--seed", str(seed),
            "--splits", splits_json, "--fold", split, "--tolerance", f"{tolerance:g}", "-o", output,
            *(["--oracle"] if oracle else []), *(["--cases", "all"] if cases != "test" else [])]


def report(results_csv: str, output: str, title: str, checkpoints: str | None = None) -> list[str]:
    return ["report", results_csv, "-o", output, "--title", title, *(["--checkpoints", checkpoints] if checkpoints
                                                                       else [])]


__all__ = ["catalog", "evaluate", "hp_args", "predict", "predict_all", "preprocess", "ratio_tag", "report",
           "split_names", "splits", "ssl_pair", "ssl_true_labels", "synth_cohort", "train"]
