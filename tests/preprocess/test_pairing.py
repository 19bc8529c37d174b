"""Registration for paired-sequence SSL: a known rigid offset between a scan and a contrast-inverted copy is
recovered, the transported label matches the target's, the consensus of the three candidate transports picks
the one the others support, the local fit follows the box and the slice search follows each slice."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from crosspan.data.io import ImageProperties
from crosspan.preprocess.pairing.pseudo_labels import consensus
from crosspan.preprocess.pairing.registration import register_rigid, transport_label


def phantom(shape: tuple[int, int, int] = (32, 40, 40)) -> tuple[np.ndarray, np.ndarray]:
    z, y, x = np.meshgrid(*[np.arange(s, dtype=float) for s in shape], indexing="ij")
    body = ((z - 16) / 13) ** 2 + ((y - 20) / 17) ** 2 + ((x - 20) / 15) ** 2 < 1
    organ = ((z - 14) / 5) ** 2 + ((y - 15) / 4) ** 2 + ((x - 24) / 7) ** 2 < 1
    spine = ((y - 30) / 3) ** 2 + ((x - 18) / 3) ** 2 < 1
    img = 1.0 * body + 1.5 * organ + 2.5 * spine
    img = ndimage.gaussian_filter(img, 0.7) + 0.02 * np.random.default_rng(0).normal(size=shape)
    return img, organ.astype(np.uint8)


def test_rigid_registration_recovers_offset_across_contrast() -> None:
    img, lab = phantom()
    shift = (2, -3, 2)  # voxels (z, y, x)
    props = ImageProperties(shape=img.shape, spacing=(2.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0),
                            direction=(1, 0, 0, 0, 1, 0, 0, 0, 1))
    target = np.roll(img.max() - img, shift, axis=(0, 1, 2))  # the "other sequence": inverted contrast, moved
    target_lab = np.roll(lab, shift, axis=(0, 1, 2))
    reg = register_rigid(target, props, img, props)
    tx, ty, tz = reg.translation_xyz  # maps target points to source points: minus the shift, in mm
    assert abs(tz + 2 * 2.0) < 1.0 and abs(ty + (-3) * 1.0) < 1.0 and abs(tx + 2 * 1.0) < 1.0
    assert 2 * (lab & target_lab).sum() / (lab.sum() + target_lab.sum()) < 0.5  # unregistered overlap is poor
    moved = transport_label(lab, props, props, reg)
    dice = 2 * (moved & target_lab).sum() / (moved.sum() + target_lab.sum())
    assert dice > 0.85 and reg.metric < 0


def _block(z0: int) -> np.ndarray:
    lab = np.zeros((20, 16, 16), np.uint8)
    lab[z0: z0 + 6, 4:12, 4:12] = 1
    return lab


def test_consensus_outvotes_a_registration_that_slid() -> None:
    """A backward fit that slid away (issue #17: ~100 mm along z on 8 mm T2) is outvoted by the forward fit and the
    scanner frame; an inverse-consistent pair is kept with its agreement as the weight; no majority -> weight 0."""
    good, slid = _block(5), _block(13)
    choice, weight, agree = consensus({"forward": good, "backward": slid, "scanner": _block(6)}, 0.5)
    assert choice == "forward" and weight == pytest.approx(agree[("forward", "scanner")]) and weight > 0.8
    assert agree[("forward", "backward")] == 0.0  # the old rule's weight: this good pair was rejected
    choice, weight, _ = consensus({"forward": good, "backward": good, "scanner": slid}, 0.5)
    assert choice == "forward" and weight == 1.0  # the registration agrees with itself: the scanner frame is moot
    choice, weight, _ = consensus({"forward": _block(0), "backward": _block(7), "scanner": _block(14)}, 0.5)
    assert weight == 0.0  # three different places: no evidence for any
    empty = np.zeros_like(good)
    assert consensus({"forward": empty, "backward": empty, "scanner": empty}, 0.5)[1] == 0.0


def _slice_stack(shifts_vox: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, ImageProperties]:
    """A source phantom and a contrast-inverted target whose slice k shows the source's slice k + shifts_vox[k]
    (a 2D multi-slice acquisition, each slice at its own breathing position); and both labels."""
    img, lab = phantom((40, 40, 40))
    props = ImageProperties(shape=img.shape, spacing=(1.5, 1.0, 1.0), origin=(0.0, 0.0, 0.0),
                            direction=(1, 0, 0, 0, 1, 0, 0, 0, 1))
    rows = [int(np.clip(k + s, 0, img.shape[0] - 1)) for k, s in enumerate(shifts_vox)]
    return img, lab, img.max() - img[rows], lab[rows], props


def test_slice_search_follows_each_slice_to_its_own_position() -> None:
    from crosspan.preprocess.pairing.local import label_box, slice_search
    from crosspan.preprocess.pairing.registration import scanner_frame

    shifts = [int(v) for v in np.random.default_rng(3).integers(-3, 4, size=40)]  # up to 4.5 mm, like HASTE
    img, lab, target, target_lab, props = _slice_stack(shifts)
    plain = transport_label(lab, props, props, scanner_frame())
    box = label_box(plain, props.spacing)
    assert box is not None
    moved, found = slice_search(target, props, img, props, lab, props, scanner_frame(), box)

    def dice(a: np.ndarray) -> float:
        return 2 * float((a & target_lab).sum()) / float(a.sum() + target_lab.sum())

    assert dice(moved) > dice(plain) + 0.1 and dice(moved) > 0.9
    organ = np.nonzero(target_lab.any((1, 2)))[0]  # slices through the label: the shift is recovered
    right = [abs(found[k, 2] - 1.5 * shifts[k]) < 0.1 for k in organ]
    assert np.mean(right) > 0.8, (found[organ, 2], [1.5 * shifts[k] for k in organ])
    assert (found[:, 0] == 0).all()  # x is not searched


def test_local_fit_is_driven_by_the_box_not_the_whole_field_of_view() -> None:
    """Outside the box the target moved one way (the body outline), inside it another (the organ): the local fit
    follows the organ, which a whole-volume fit cannot."""
    from crosspan.preprocess.pairing.local import label_box, local_rigid

    img, lab = phantom((40, 48, 48))
    props = ImageProperties(shape=img.shape, spacing=(2.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0),
                            direction=(1, 0, 0, 0, 1, 0, 0, 0, 1))
    near = np.roll(img.max() - img, (2, 0, 0), axis=(0, 1, 2))  # the organ's region moved 4 mm along z
    box = label_box(lab, props.spacing, margin_mm=6.0)
    assert box is not None
    target = np.roll(img.max() - img, (-3, 0, 0), axis=(0, 1, 2))  # everything else moved -6 mm
    target[box] = near[box]
    fit = local_rigid(target, props, img, props, box)
    assert abs(fit.translation_xyz[2] + 4.0) < 1.0, fit.translation_xyz
    assert register_rigid(target, props, img, props).translation_xyz[2] > 3.0  # the whole-volume fit: the body


def test_pairing_a_case_twice_gives_the_same_label_and_record(tmp_path) -> None:  # noqa: ANN001
    """Reproducible at a fixed seed: ITK reads a sampling seed of 0 as "the wall clock", which made S3_0004_OOP's
    agreement 0.68 in one run and 0.04 in the next at `--seed 0`; ITK also runs on one thread a worker."""
    import json

    from crosspan.data.io import read_image, write_image
    from crosspan.preprocess.pairing.pseudo_labels import pair_case

    shifts = [int(v) for v in np.random.default_rng(5).integers(-2, 3, size=40)]
    img, lab, target, _, props = _slice_stack(shifts)
    paths = {n: write_image(a, props, tmp_path / f"{n}.nii.gz") for n, a in
             (("src", img.astype(np.float32)), ("lab", lab), ("tgt", target.astype(np.float32)))}
    job = {"case_id": "c", "image": str(paths["tgt"]),
           "source": {"case_id": "s", "image": str(paths["src"]), "label": str(paths["lab"])}}
    runs = []
    for k in range(2):
        out = tmp_path / f"run{k}"
        (out / "labels").mkdir(parents=True)
        (out / "pairs").mkdir()
        rec = pair_case(job, str(out))
        runs.append((json.dumps({k: v for k, v in rec.items() if k != "pseudo_label"}),
                     read_image(out / "labels" / "c.nii.gz")[0], rec))
    (a, la, rec), (b, lb, _) = runs
    assert rec["weight"] > 0.5 and rec["transport"] == "local" and la.any()
    assert a == b and np.array_equal(la, lb)
