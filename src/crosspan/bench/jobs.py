"""A benchmark as jobs: shared stages (cohort, catalog, splits + preprocessing per protocol), then one job per
method x protocol x split (fold, label ratio) x seed (one seed only where the seed changes nothing the method
predicts: :func:`job_seeds`). Each job is a list of command lines in a folder named by a
hash of its arguments (DomainBed's sweep idea: every run a command line, its folder a hash of its arguments)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from crosspan.bench import commands
from crosspan.bench.datasets import IN_DISTRIBUTION, TestDataset, synthetic_args
from crosspan.bench.spec import MethodSpec, ProtocolEntry, Spec

DONE = "done"
EVENTS = "events.jsonl"
SKIPPED = "skipped.json"  # a zero-shot job that cannot run here (its reason); re-checked on every run


@dataclass(frozen=True)
class Step:
    """One command line (arguments after the executable); its marker ``steps/<name>.done`` is written on success."""

    name: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class Job:
    """A folder, its command lines and the arguments its name hashes. ``kind`` is ``stage`` or ``job``."""

    id: str
    kind: str
    dir: str
    steps: tuple[Step, ...]
    info: dict[str, Any] = field(default_factory=dict)
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return Path(self.dir)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class JobPlan:
    """Waves of jobs: each wave starts once the previous one finished (the stages, then one wave of method and
    test-set jobs, in which a job waits only for its ``model_job``)."""

    spec: Spec
    waves: tuple[tuple[Job, ...], ...]

    @property
    def jobs(self) -> list[Job]:
        return [j for wave in self.waves for j in wave]

    @property
    def method_jobs(self) -> list[Job]:
        return [j for j in self.jobs if j.kind == "job"]


def arg_hash(args: dict[str, Any]) -> str:
    """sha256 of the stable JSON of ``args`` (sorted keys), first 12 hex digits."""
    text = json.dumps(args, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _job(kind: str, prefix: str, root: Path, args: dict[str, Any], steps: list[Step], info: dict[str, Any]) -> Job:
    jid = f"{prefix}-{arg_hash(args)}"
    return Job(id=jid, kind=kind, dir=str(root / jid), steps=tuple(steps), info=info, args=args)


def _s(name: str, args: list[str]) -> Step:
    return Step(name, tuple(args))


def build_plan(spec: Spec) -> JobPlan:
    """Every stage and job of ``spec`` (pure: nothing is read or written)."""
    out = spec.output
    waves: list[tuple[Job, ...]] = []
    if spec.synthetic is not None:
        syn_args = {"stage": "cohort", "synthetic": synthetic_args(spec.synthetic)}
        cohort = _job("stage", "cohort", out / "stages", syn_args, [], {"stage": "cohort"})
        data_dir = str(cohort.path / "data")
        cohort = Job(cohort.id, "stage", cohort.dir, (_s("synth", commands.synth_cohort(data_dir, spec.synthetic)),),
                     cohort.info, cohort.args)
        waves.append((cohort,))
        data_args: dict[str, Any] = syn_args
        dataset = data_dir
    else:
        assert spec.dataset is not None
        data_args = {"dataset": str(spec.dataset)}
        dataset = str(spec.dataset)
    if dataset.endswith(".csv"):
        catalog_csv = dataset
    else:
        cat = _job("stage", "catalog", out / "stages", {"stage": "catalog", **data_args}, [], {"stage": "catalog"})
        catalog_csv = str(cat.path / "catalog.csv")
        waves.append((Job(cat.id, "stage", cat.dir, (_s("catalog", commands.catalog(dataset, catalog_csv)),),
                          cat.info, cat.args),))
    stages, jobs = [], []
    for proto in spec.protocols:
        stage, splits_json = _protocol_stage(spec, proto, catalog_csv, data_args)
        stages.append(stage)
        jobs.extend(_method_jobs(spec, proto, stage, catalog_csv, splits_json))
    _every_method_runs(spec)
    test_stages = [_test_stage(spec, t) for t in spec.test_datasets]
    waves.append(tuple(stages + [s for s, _ in test_stages]))
    # One last wave: the method jobs, the zero-shot jobs prompted by a trained model and the test-set jobs; a job
    # with a ``model_job`` starts once that job is done (executors/schedule.py), ahead of jobs not yet started.
    waves.append(tuple([j for j in jobs if not j.info.get("model_job")] + [j for j in jobs if j.info.get("model_job")]
                       + [_test_job(spec, j, t, s, cat) for j in jobs for t, (s, cat) in
                          zip(spec.test_datasets, test_stages, strict=True)]))
    return JobPlan(spec=spec, waves=tuple(w for w in waves if w))


def plan_dir(stage: Job, split: str) -> str:
    """The preprocessing plan of one split, inside its protocol stage."""
    return str(stage.path / "plans" / split)


def _protocol_stage(spec: Spec, proto: ProtocolEntry, catalog_csv: str, data_args: dict[str, Any]) -> tuple[Job, str]:
    """Splits, then per split (skipped when every method is zero-shot): ``ssl pair`` when the protocol asks for
    pseudo-labels, then one preprocessing plan (from the paired catalog when paired)."""
    proto_args = asdict(proto)
    for key, default in (("training_input", "images"), ("ssl_pair", "none"), ("spacing", None)):
        if proto_args[key] == default:
            del proto_args[key]  # job IDs of specs written before the option stay the same
    args = {"stage": "protocol", "protocol": proto_args, **data_args}
    probe = _job("stage", f"protocol-{proto.name}", spec.output / "stages", args, [], {"stage": "protocol"})
    splits_json = str(probe.path / "splits.json")
    steps = [_s("splits", commands.splits(catalog_csv, proto, splits_json))]
    if any(not m.zero_shot and runs_on(m, proto) for m in spec.methods):
        for index, (split, _, _) in enumerate(commands.split_names(proto)):
            source, plan_splits, plan_fold = catalog_csv, splits_json, index
            if proto.ssl_pair != "none":
                pair_dir = str(probe.path / "pairs" / split)
                steps.append(_s(f"pair-{split}", commands.ssl_pair(catalog_csv, splits_json, index, pair_dir,
                                                                   proto.seed)))
                source = f"{pair_dir}/catalog.csv"
                if proto.ssl_pair == "paired-pool":  # this fold's pool cut to the paired scans (its only fold)
                    plan_splits, plan_fold = f"{pair_dir}/splits_paired.json", 0
                if proto.ssl_pair == "true-labels":
                    source = f"{pair_dir}/true_labels_catalog.csv"
                    steps.append(_s(f"true-labels-{split}", commands.ssl_true_labels(f"{pair_dir}/catalog.csv",
                                                                                     source)))
            steps.append(_s(f"preprocess-{split}", commands.preprocess(source, plan_dir(probe, split),
                                                                        plan_splits, plan_fold, proto.spacing)))
    stage = Job(probe.id, "stage", probe.dir, tuple(steps), {"stage": "protocol", "protocol": proto.name}, args)
    return stage, splits_json


def runs_on(method: MethodSpec, proto: ProtocolEntry) -> bool:
    """Whether ``method`` has jobs on ``proto``: the protocols it lists, else every protocol of its training input
    (label-map methods, ``training_input = "label-maps"`` on their class, on ``training_input: label-maps``; other
    methods and zero-shot ones on images)."""
    if method.protocols:
        return proto.name in method.protocols
    return (proto.training_input == "label-maps") == (not method.zero_shot and _trains_on_label_maps(method))


def _every_method_runs(spec: Spec) -> None:
    """A method with no protocol to run on (a label-map method without a label-map protocol) is a spec error."""
    from crosspan.core.errors import CrosspanError

    for m in spec.methods:
        if not any(runs_on(m, p) for p in spec.protocols):
            kind = "training_input: label-maps" if _trains_on_label_maps(m) else "training_input: images"
            raise CrosspanError(spec.path, f"method {m.name} runs on no protocol (it needs one with {kind})",
                                "add such a protocol, or list the method's `protocols:`")


def _trains_on_label_maps(method: MethodSpec) -> bool:
    from crosspan.core.errors import CrosspanError
    from crosspan.methods.base import get_method

    try:
        return get_method(method.method).training_input == "label-maps"
    except CrosspanError:  # an unregistered name: `benchmark run --dry-run` warns about it
        return False


def _method_args(method: MethodSpec) -> dict[str, Any]:
    """The hashed arguments of a method; ``protocols`` (where it runs) is not part of what a job is."""
    args = asdict(method)
    del args["protocols"]
    if args["prompts_from"] is None:
        del args["prompts_from"]  # job IDs of specs written before the option stay the same
    return args


def _method_jobs(spec: Spec, proto: ProtocolEntry, stage: Job, catalog_csv: str, splits_json: str) -> list[Job]:
    jobs = []
    names = commands.split_names(proto)
    several = len({base for _, base, _ in names}) > 1
    device = spec.training.resolved_device(spec.executor)
    built: dict[tuple[str, str, int], Job] = {}
    for method in sorted((m for m in spec.methods if runs_on(m, proto)), key=lambda m: m.prompts_from is not None):
        oracle = _oracle(method) or proto.ssl_pair == "true-labels"  # trained on the target scans' labels
        for index, (split, base_split, ratio) in enumerate(names):
            for seed in job_seeds(spec, method):
                args = {"method": _method_args(method), "protocol_stage": stage.id, "split": split, "seed": seed,
                        "label_ratio": ratio, "evaluation": {"tolerance": spec.evaluation.tolerance}}
                source = built.get((method.prompts_from, split, seed)) if method.prompts_from else None
                if method.prompts_from:
                    if source is None:
                        from crosspan.core.errors import CrosspanError

                        raise CrosspanError(spec.path, f"method {method.name} takes prompts from "
                                            f"{method.prompts_from}, which has no job on protocol {proto.name}",
                                            f"run {method.prompts_from} on {proto.name} too (its `protocols:`)")
                    args["prompt_job"] = source.id  # hashed: the id, not the path of the prompting model
                if not method.zero_shot:  # where it runs (device) is not part of what it is
                    args["training"] = {k: v for k, v in asdict(spec.training).items() if k != "device"
                                        and (spec.training.eval_every or not k.startswith("eval_"))}  # same ids
                base = "-".join(p for p in [method.name, proto.name, base_split if several else "", f"s{seed}",
                                            commands.ratio_tag(ratio)] if p)
                probe = _job("job", base.replace("/", "_"), spec.output / "jobs", args, [], {})
                run_dir, pred_dir = str(probe.path / "run"), str(probe.path / "pred")
                results = str(probe.path / "results.csv")
                steps = []
                if not method.zero_shot:
                    steps.append(_s("train", commands.train(plan_dir(stage, split), run_dir, method, spec.training,
                                                            seed, device)))
                boxed = _prompted(method, source)
                steps.append(_s("predict", commands.predict(None if method.zero_shot else run_dir, catalog_csv,
                                                            pred_dir, boxed, splits_json, index, device)))
                steps.append(_s("evaluate", commands.evaluate(catalog_csv, pred_dir, method.name, probe.id, seed,
                                                              splits_json, split, spec.evaluation.tolerance,
                                                              results, oracle=oracle)))
                info = {"method": method.name, "protocol": proto.name, "split": split, "seed": seed,
                        "label_ratio": ratio, "results": results, "test_set": IN_DISTRIBUTION, "base": base,
                        "splits": splits_json, "oracle": oracle, "run_dir": None if method.zero_shot else run_dir}
                if source is not None:  # runs after (and is blocked until) the job whose model draws its boxes
                    info.update(model_job=source.id, box_model=source.info["run_dir"])
                job = Job(probe.id, "job", probe.dir, tuple(steps), info, args)
                built[(method.name, split, seed)] = job
                jobs.append(job)
    return jobs


def seeded(method: MethodSpec) -> bool:
    """Whether a job's seed changes what ``method`` predicts. The seed reaches only the train step (``--seed``),
    so: a trained method, or a zero-shot one (the registry's ``kind``, :attr:`MethodSpec.zero_shot`) prompted by a
    trained model of that seed (``prompts_from``). A zero-shot model's own randomness (``jittered-box`` prompts) is
    seeded by its ``seed`` hyperparameter, which the job never sets: its jobs for every seed would be the same."""
    return not method.zero_shot or method.prompts_from is not None


def job_seeds(spec: Spec, method: MethodSpec) -> tuple[int, ...]:
    """The spec's seeds for a :func:`seeded` method, else its first seed only (the job keeps that seed's id, so a
    results folder from before still resumes)."""
    return spec.seeds if seeded(method) else spec.seeds[:1]


def _prompted(method: MethodSpec, source: Job | None) -> MethodSpec:
    """``method`` with ``box_model`` pointing at ``source``'s run folder (``prompts_from``), else unchanged."""
    if source is None:
        return method
    return replace(method, hp={**method.hp, "box_model": source.info["run_dir"]})


def _test_stage(spec: Spec, test: TestDataset) -> tuple[Job, str]:
    """A test dataset's stage: its synthetic cohort (if any), then its catalog (only ``targets`` scans)."""
    data_args: dict[str, Any] = ({"synthetic": synthetic_args(test.synthetic)} if test.synthetic is not None
                                 else {"dataset": str(test.path)})
    args = {"stage": "test-set", **data_args, "targets": list(test.targets)}
    probe = _job("stage", f"testset-{test.name}", spec.output / "stages", args, [], {})
    steps, data = [], str(test.path)
    if test.synthetic is not None:
        data = str(probe.path / "data")
        steps.append(_s("synth", commands.synth_cohort(data, test.synthetic)))
    catalog_csv = str(probe.path / "catalog.csv")
    steps.append(_s("catalog", commands.catalog(data, catalog_csv, test.targets)))
    return Job(probe.id, "stage", probe.dir, tuple(steps), {"stage": "test-set", "test_set": test.name}, args), \
        catalog_csv


def _test_job(spec: Spec, job: Job, test: TestDataset, stage: Job, catalog_csv: str) -> Job:
    """The model of ``job`` (its run folder, or its zero-shot method) predicts every scan of a test dataset,
    scored against the training domains of ``job``'s split."""
    args = {"model_job": job.id, "test_stage": stage.id}
    probe = _job("job", f"{job.info['base']}-{test.name}".replace("/", "_"), spec.output / "jobs", args, [], {})
    method = next(m for m in spec.methods if m.name == job.info["method"])
    if job.info.get("box_model"):
        method = replace(method, hp={**method.hp, "box_model": job.info["box_model"]})
    pred_dir, results = str(probe.path / "pred"), str(probe.path / "results.csv")
    device = spec.training.resolved_device(spec.executor)
    steps = [_s("predict", commands.predict_all(job.info["run_dir"], catalog_csv, pred_dir, method, device)),
             _s("evaluate", commands.evaluate(catalog_csv, pred_dir, method.name, job.id, job.info["seed"],
                                              job.info["splits"], job.info["split"], spec.evaluation.tolerance,
                                              results, oracle=job.info["oracle"], cases="all"))]
    info = {**job.info, "results": results, "test_set": test.name, "model_job": job.id}
    return Job(probe.id, "job", probe.dir, tuple(steps), info, {**args, "method": job.args["method"]})


def _oracle(method: MethodSpec) -> bool:
    """Methods prompted from the ground truth at test time (zero-shot oracle boxes, prompt-unet) produce oracle
    results: the registry says so (``Method.uses_oracle``)."""
    from crosspan.core.errors import CrosspanError
    from crosspan.methods.base import get_method, resolve_hparams

    try:
        cls = get_method(method.method)
        return cls.uses_oracle(resolve_hparams(cls, dict(method.hp)))
    except CrosspanError:  # an unregistered name: `benchmark run --dry-run` warns about it
        return False


# --- status -------------------------------------------------------------------------------------------------


def step_marker(job: Job, step: Step | str) -> Path:
    name = step if isinstance(step, str) else step.name
    return job.path / "steps" / f"{name}.done"


def read_events(job: Job) -> list[dict[str, Any]]:
    """The job's JSONL events; a line cut short by a kill is skipped."""
    path = job.path / EVENTS
    if not path.exists():
        return []
    events = []
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


def is_done(job: Job) -> bool:
    """The job's ``done`` marker and every one of its steps' markers exist. A stage's steps depend on what the spec
    (or ``--subset``) runs on it, not its hash: a protocol stage finished for a subset with no method on it holds
    its splits only, and the full spec must still run its pairing and preprocessing."""
    return (job.path / DONE).exists() and all(step_marker(job, s).exists() for s in job.steps)


def job_status(job: Job) -> str:
    """``done`` (:func:`is_done`), ``skipped`` (a zero-shot method that cannot run here, see :func:`skip_note`),
    ``incomplete`` (started, not finished) or ``pending`` (never started)."""
    if is_done(job):
        return "done"
    if (job.path / SKIPPED).exists():
        return "skipped"
    if any((job.path / name).exists() for name in (DONE, EVENTS)) or any(step_marker(job, s).exists()
                                                                         for s in job.steps):
        return "incomplete"
    return "pending"


def steps_done(job: Job) -> int:
    return sum(step_marker(job, s).exists() for s in job.steps)


def skip_note(job: Job) -> str | None:
    """Why the job was skipped (``skipped.json``), or None."""
    try:
        return str(json.loads((job.path / SKIPPED).read_text())["reason"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def zero_shot_skip_reason(job: Job) -> str | None:
    """``crosspan.inference.zeroshot.skip_reason`` of a zero-shot method job (MedSAM2 without its checkpoint, a
    missing package); None for other jobs, or when the method is unknown (its predict step then says why)."""
    method = job.args.get("method") if job.kind == "job" else None
    if not isinstance(method, dict) or not method.get("zero_shot"):
        return None
    from crosspan.core.errors import CrosspanError
    from crosspan.inference.zeroshot import skip_reason

    try:
        return skip_reason(str(method["method"]), dict(method.get("hp") or {}))
    except CrosspanError:
        return None


def last_failure(job: Job) -> str | None:
    """``step (exit N)`` when the last event of the job is a failure."""
    events = read_events(job)
    if events and events[-1].get("event") in ("failed", "interrupted"):
        return f"{events[-1].get('step')} ({events[-1]['event']}, exit {events[-1].get('returncode')})"
    return None


__all__ = ["DONE", "EVENTS", "SKIPPED", "Job", "JobPlan", "Step", "arg_hash", "build_plan", "job_seeds", "job_status",
           "last_failure", "read_events", "seeded", "skip_note", "step_marker", "steps_done", "zero_shot_skip_reason"]
