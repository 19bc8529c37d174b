"""A Ctrl-C that Python swallows (it landed in a finalizer) must still stop the benchmark runner's jobs."""

from __future__ import annotations

import os
import signal

import pytest

from crosspan.bench import runner
from crosspan.bench.sweep import _ctrl_c_stops_jobs


class _Finalizer:
    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # the handler's KeyboardInterrupt is "ignored" inside __del__


def test_sigint_sets_the_stop_flag_before_raising() -> None:
    runner.reset_stop()
    with pytest.raises(KeyboardInterrupt), _ctrl_c_stops_jobs():
        os.kill(os.getpid(), signal.SIGINT)
    assert runner.stop_requested()
    runner.reset_stop()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_swallowed_sigint_still_requests_the_stop() -> None:
    runner.reset_stop()
    before = signal.getsignal(signal.SIGINT)
    with _ctrl_c_stops_jobs():
        obj = _Finalizer()
        del obj  # KeyboardInterrupt raised in __del__ is ignored by Python; the run goes on
    assert runner.stop_requested()  # ...but no new step starts and the run ends interrupted
    assert signal.getsignal(signal.SIGINT) is before  # handler restored
    runner.reset_stop()
