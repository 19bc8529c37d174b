"""End-to-end ``crosspan predict`` time per scan, stage by stage: read + preprocess (or the plan's cache), the
network (full window, ``--roi auto``, ``--roi auto --roi-zoom 2``), back to the source grid + post-processing,
write. Every configuration runs on a scan before the next scan starts (the order rotated scan by scan), so the
ratios of one scan are measured side by side under the same load.

Usage: .venv/bin/python benchmarks/speed/predict_end_to_end.py RUN_DIR DATA [--cases all] [--threads 1]
       [-o OUT.json]

The stages are ``crosspan.inference.pipeline``'s own (``prepare``, ``probabilities``, ``finish``) and
``write_image``, as ``crosspan predict`` calls them, timed inside one process (no start-up, no model loading:
both happen once per command, printed apart). The cases must be cached under the run's plan for the cached
configurations to skip preprocessing (``crosspan preprocess`` caches all catalog rows by default); the script
checks that the masks with and without the cache are identical.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from crosspan.data.io import write_image
from crosspan.inference.inputs import collect_inputs
from crosspan.inference.pipeline import finish, load_run, prepare, probabilities
from crosspan.inference.plancache import PlanCache
from crosspan.methods.sliding import predict_volume
from crosspan.runs.run import Run

#: (name, --roi, --roi-zoom, use the plan's cache)
CONFIGS = [("full", "none", 1.0, True), ("full-nocache", "none", 1.0, False),
           ("auto", "auto", 1.0, True), ("auto-nocache", "auto", 1.0, False),
           ("zoom2", "auto", 2.0, True), ("zoom2-nocache", "auto", 2.0, False)]
STAGES = ("prepare", "network", "to_source_post", "write")


def run_config(run: Run, image: str, roi: str, zoom: float, cache: PlanCache | None,
               out: Path) -> tuple[dict[str, Any], np.ndarray]:
    """One scan through one configuration, each stage timed; the row and the mask."""
    t: dict[str, Any] = {}
    t0 = time.perf_counter()
    pre = prepare(run.plan, image, cache=cache)
    t1 = time.perf_counter()
    prob, rep = probabilities(run.method, run.model, pre, roi=roi, roi_zoom=zoom)
    t2 = time.perf_counter()
    seg = finish(prob, pre, "lcc", rep)
    t3 = time.perf_counter()
    write_image(seg.mask.astype(np.uint8), seg.source, out)
    t4 = time.perf_counter()
    t.update(prepare=t1 - t0, network=t2 - t1, to_source_post=t3 - t2, write=t4 - t3, total=t4 - t0,
             cached=cache is not None and cache.hits > 0, tiles=(rep.tiles if rep else None),
             tiles_full_window=(rep.tiles_full_window if rep else None),
             fallback=(rep.fallback if rep else ""))
    if cache is not None:
        cache.hits = 0
    return t, seg.mask


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("data")
    ap.add_argument("--cases", default="all")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("-o", "--output", default="")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    run = load_run(args.run_dir)
    load_s = time.perf_counter() - t0
    items = collect_inputs(args.data, args.cases)
    caches: dict[str, PlanCache | None] = {}
    index_s = {}
    for name, _, _, use in CONFIGS:
        t0 = time.perf_counter()
        caches[name] = PlanCache.of_run(run.model, run.plan) if use else None
        if caches[name] is not None:
            caches[name].index()  # type: ignore[union-attr]
        index_s[name] = time.perf_counter() - t0
    rows: list[dict[str, Any]] = []
    load_before = os.getloadavg()
    with torch.inference_mode(), tempfile.TemporaryDirectory() as tmp:
        warm = np.zeros([max(s, 8) for s in run.model.patch_size], np.float32)  # one untimed network call
        predict_volume(run.method, warm, list(run.model.patch_size), 0.5, False, "cpu", "none")
        for i, (case, image) in enumerate(items):
            masks: dict[str, np.ndarray] = {}
            for k in range(len(CONFIGS)):
                name, roi, zoom, _ = CONFIGS[(i + k) % len(CONFIGS)]
                row, masks[name] = run_config(run, image, roi, zoom, caches[name], Path(tmp) / f"{case}_{name}.nii.gz")
                rows.append(dict(row, case=case, config=name, load=os.getloadavg()[0]))
                print(f"{case} {name:14s} total {row['total']:6.2f} s  network {row['network']:6.2f} s  "
                      f"prepare {row['prepare']:5.2f} s  cached {row['cached']}", flush=True)
            for name in ("full", "auto", "zoom2"):
                same = bool(np.array_equal(masks[name], masks[name + "-nocache"]))
                rows.append({"case": case, "config": name, "identical_to_nocache": same})
    summary = summarize(rows, [c for c, _ in items])
    doc = {"run": args.run_dir, "data": args.data, "threads": args.threads, "load_run_s": load_s,
           "cache_index_s": index_s, "load_before": load_before, "load_after": os.getloadavg(), "rows": rows,
           "summary": summary}
    print(json.dumps(summary, indent=2))
    if args.output:
        Path(args.output).write_text(json.dumps(doc, indent=2) + "\n")


def summarize(rows: list[dict[str, Any]], cases: list[str]) -> dict[str, Any]:
    """Per configuration: median total and network share over scans; per scan ratios against ``full-nocache``
    (today's ``crosspan predict --roi none`` without reuse) and cache vs no cache; masks identical or not."""
    timed = {(r["case"], r["config"]): r for r in rows if "total" in r}
    out: dict[str, Any] = {}
    for name, *_ in CONFIGS:
        tot = [timed[c, name]["total"] for c in cases]
        share = [timed[c, name]["network"] / timed[c, name]["total"] for c in cases]
        stages = {s: statistics.median(timed[c, name][s] for c in cases) for s in STAGES}
        out[name] = {"median_total_s": statistics.median(tot), "median_network_share": statistics.median(share),
                     "median_stage_s": stages,
                     "speedup_vs_full_nocache": [timed[c, "full-nocache"]["total"] / timed[c, name]["total"]
                                                 for c in cases]}
    for name in ("full", "auto", "zoom2"):
        out[name]["cache_speedup"] = [timed[c, name + "-nocache"]["total"] / timed[c, name]["total"] for c in cases]
    out["identical_with_and_without_cache"] = all(r["identical_to_nocache"] for r in rows
                                                  if "identical_to_nocache" in r)
    return out


if __name__ == "__main__":
    main()
