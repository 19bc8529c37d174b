"""Training-step time of the label-map methods (physics-rand, synthseg) relative to ERM (same network, patch,
batch; CPU by default).

Round-robin timing (one step of each method per round), median over rounds, wall and process CPU time, and the
time of drawing the images alone. The batch carries a tissue map of a synthetic-cohort-like layout.

    .venv/bin/python benchmarks/speed/labelmap_step_time.py --patch 48 --batch 2 --threads 2 --rounds 7
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from step_timing import build_methods, fixed_batches

from crosspan.core.atomic import write_text
from crosspan.methods.base import label_map_methods
from crosspan.synth.tissues import N_TISSUES, Tissue


def batch(b: int, size: int, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randint(0, N_TISSUES, (b, 1, 6, 6, 6), generator=g).float()
    tissue = torch.nn.functional.interpolate(coarse, size=(size,) * 3, mode="nearest").long()
    return {"image": torch.randn(b, 1, size, size, size, generator=g), "label": (tissue == Tissue.PANCREAS).long(),
            "domain": torch.zeros(b, dtype=torch.long), "tissue": tissue}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patch", type=int, default=48)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--network", default="tiny")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("-o", "--output", default="benchmarks/results/labelmap.md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    names = ["erm", *label_map_methods()]
    methods = build_methods(names, args.network, args.patch, ["A:T1"], dev)
    data = fixed_batches(batch, args.batch, args.patch, 3, dev)
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    draw: dict[str, list[float]] = {n: [] for n in names}
    for r in range(2 + args.rounds):
        for n, m in methods.items():
            d = data[r % len(data)]
            if n != "erm":
                t = time.perf_counter()
                m.draw(d)
                if r >= 2:
                    draw[n].append(time.perf_counter() - t)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t, c = time.perf_counter(), time.process_time()
            m.update(d)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            if r >= 2:
                wall[n].append(time.perf_counter() - t)
                cpu[n].append(time.process_time() - c)
    base_w, base_c = statistics.median(wall["erm"]), statistics.median(cpu["erm"])
    lines = [f"### Label-map methods: step time vs ERM ({args.device}, network {args.network}, patch "
             f"{args.patch}^3, batch {args.batch}, {args.threads} threads, median of {args.rounds} rounds)", "",
             f"`.venv/bin/python benchmarks/speed/labelmap_step_time.py --patch {args.patch} --batch {args.batch} "
             f"--threads {args.threads} --rounds {args.rounds} --network {args.network}`", "",
             "| method | step (s) | x ERM (wall) | x ERM (CPU time) | draw alone (s) |", "|---|---|---|---|---|"]
    for n in names:
        w, c = statistics.median(wall[n]), statistics.median(cpu[n])
        dr = f"{statistics.median(draw[n]):.3f}" if draw[n] else "-"
        lines.append(f"| {n} | {w:.3f} | {w / base_w:.2f} | {c / base_c:.2f} | {dr} |")
    text = "\n".join(lines) + "\n"
    print(text)
    write_text(args.output, text)


if __name__ == "__main__":
    main()
