"""Map a function over items in worker processes with a rich progress bar."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def progress_bar(disable: bool = False) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), disable=disable, transient=False)


def pmap(fn: Callable[[T], R], items: Sequence[T], workers: int | None = None, description: str = "working",
         progress: bool = True, chunksize: int | None = None) -> list[R]:
    """``[fn(x) for x in items]`` in order, in ``workers`` processes (1 = in this process)."""
    workers = default_workers() if workers is None else max(1, workers)
    results: list[Any] = []
    with progress_bar(disable=not progress) as bar:
        task = bar.add_task(description, total=len(items))
        if workers == 1 or len(items) < 4:
            for x in items:
                results.append(fn(x))
                bar.advance(task)
            return results
        chunksize = chunksize or max(1, min(16, len(items) // (workers * 4) or 1))
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for r in pool.map(fn, items, chunksize=chunksize):
                results.append(r)
                bar.advance(task)
    return results

