"""Resume: an SSL method restored from (state_dict, training_state) after k steps continues exactly as an
uninterrupted one (teacher, second network, ramp-up step counter and optimizer all travel in the checkpoint)."""

from __future__ import annotations

import pytest
import torch

from crosspan.methods import get_method
from tests.methods.dg.test_augment import make_batch
from tests.methods.ssl.test_mean_teacher import DOMAINS, tiny, unlabeled_batch

HP = {"rampup_steps": 3}


def run(m, steps: range) -> None:  # noqa: ANN001
    for s in steps:
        torch.manual_seed(1000 + s)  # the engine reseeds torch per step the same way
        m.train()
        m.update(make_batch(b=2, seed=s), unlabeled_batch(seed=50 + s))


@pytest.mark.parametrize("name", ["mean-teacher", "cps"])  # teacher and second network; others share these
def test_resume_matches_uninterrupted(name: str) -> None:
    hp = {**HP, **({"uncertainty_T": 2} if name == "ua-mt" else {}), **({"threshold": 0.5} if name == "fixmatch"
                                                                        else {})}
    ref = get_method(name)(tiny(), DOMAINS, hp)
    ref.setup_training(4)
    run(ref, range(4))
    first = get_method(name)(tiny(), DOMAINS, hp)
    first.setup_training(4)
    run(first, range(2))
    state, training = first.state_dict(), first.training_state()
    resumed = get_method(name)(tiny(seed=3), DOMAINS, hp)
    resumed.setup_training(4)
    resumed.load_state_dict(state)
    resumed.load_training_state(training)
    run(resumed, range(2, 4))
    a, b = ref.state_dict(), resumed.state_dict()
    assert a.keys() == b.keys() and int(b["step_count"]) == 4
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-6), k
