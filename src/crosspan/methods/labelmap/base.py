"""Shared update of the label-map methods: draw an image from each sample's tissue label map, normalize it as the
preprocessing does, train pancreas segmentation with the supervised loss on the unchanged label."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from crosspan.core.errors import CrosspanError
from crosspan.core.seeding import derive_seed
from crosspan.methods.base import Batch, TrainingInput
from crosspan.methods.common import SupervisedMethod
from crosspan.methods.labelmap.draws import zscore_body
from crosspan.transforms.batch import like_input

TISSUE_KEY = "tissue"


def tissue_of(batch: Batch) -> torch.Tensor:
    """The batch's tissue label map (B, 1, Z, Y, X), or a clear error when the engine did not provide one."""
    tissue = batch.get(TISSUE_KEY)
    if tissue is None:
        raise CrosspanError(None, "label-map methods need a tissue label map per training patch (batch key "
                            "'tissue'), and this batch has none",
                            "train on a catalog with a 'tissue' column (e.g. a cohort made with "
                            "`crosspan synth cohort --tissue-maps`), see docs/labelmap.md")
    if tissue.shape[2:] != batch["label"].shape[2:]:
        raise CrosspanError(None, f"tissue map {tuple(tissue.shape)} and label {tuple(batch['label'].shape)} "
                            "differ in size", "crop the tissue map with the same patch as the label")
    return tissue.long()


class LabelMapMethod(SupervisedMethod):
    """Subclasses implement :meth:`synthesize` (tissue maps, generator -> raw images). ``p_real``: probability a
    sample keeps its real image (mixed training); draws come from a generator seeded by ``seed`` and a number from
    torch's global generator, which the engine reseeds every step (so resumed runs repeat their draws)."""

    default_hparams: ClassVar[dict[str, Any]] = {**SupervisedMethod.default_hparams, "seed": 0, "p_real": 0.0}
    forward_passes: ClassVar[int] = 1
    training_input: ClassVar[TrainingInput] = "label-maps"  # the engine checks batches carry `tissue`

    def synthesize(self, tissue: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def synthesize_normalized(self, tissue: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Drawn images normalized like the preprocessed inputs; default: z-score inside the patch's body."""
        return zscore_body(self.synthesize(tissue, gen), tissue > 0)

    def generator(self, device: torch.device) -> torch.Generator:
        draw = int(torch.randint(0, 2**31 - 1, (1,)))
        return torch.Generator(device=device).manual_seed(derive_seed(self.hparams["seed"], self.name, draw))

    def draw(self, batch: Batch) -> torch.Tensor:
        """The z-scored training images of ``batch`` (no gradients); the label is not touched."""
        image, tissue = batch["image"], tissue_of(batch)
        gen = self.generator(image.device)
        with torch.no_grad():
            synth = self.synthesize_normalized(tissue.to(image.device), gen)
            p_real = float(self.hparams["p_real"])
            if p_real > 0:
                keep = torch.rand(image.shape[0], generator=gen, device=gen.device) < p_real
                synth = torch.where(keep.reshape(-1, 1, 1, 1, 1), image.float(), synth)
        return like_input(synth.to(image.dtype), image)

    def update(self, labeled: Batch, unlabeled: Batch | None = None) -> dict[str, float]:
        image, label = self.draw(labeled), labeled["label"]
        with self.autocast(image.device):
            out = self.network(image)
        loss = self.supervised_loss(out, label)
        self.step(loss)
        return {"loss": float(loss.detach()), "lr": self.current_lr()}
