"""Per-domain risks over the true training domains (center x sequence), shared by GroupDRO and V-REx.

The nnU-Net fork of the CrossPan authors used one group (GroupDRO) or pairs of samples (V-REx); here each
domain present in the batch gets its own Dice+CE (with deep supervision) on its subset of the batch.
"""

from __future__ import annotations

import torch

from crosspan.methods.common import SupervisedMethod, split_outputs


def domain_risks(method: SupervisedMethod, out: torch.Tensor | list | tuple, label: torch.Tensor,
                 domain: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(risks (D_present,), domain indices (D_present,)) for the domains present in the batch."""
    outs = split_outputs(out, label.ndim)
    present = torch.unique(domain.to(label.device))
    risks = []
    for d in present:
        idx = (domain.to(label.device) == d).nonzero().flatten()
        risks.append(method.supervised_loss([o[idx] for o in outs], label[idx]))
    return torch.stack(risks), present
