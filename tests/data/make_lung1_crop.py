"""Recreate lung1_crop_image.nrrd and lung1_crop_label.nrrd from PyRadiomics' lung1 sample.

Run once with the multisurv environment:  python tests/data/make_lung1_crop.py <radiomics-samples dir>

The "crop" must give PyRadiomics' baseline values under every settings column that depends only on the
neighbourhood of the ROI (all but ``normalization``, which uses whole-image statistics). Two things make a
plain bounding-box crop fail the ``resampling`` column:

- PyRadiomics anchors its resampled grid at voxel index 0 of the image
  (``imageoperations.resampleImage``), so a crop that moves index 0 moves the grid. The 2 mm grid of the
  baseline realigns only when the offset times ``0.5703125 / 2`` (in-plane) or ``5 / 2`` (slices) is an
  integer: we keep the full 512 x 512 in-plane extent and start the slab at an even slice.
- B-spline interpolation prefilters the whole image; the influence of a changed voxel decays by a factor
  ~0.27 per voxel, so the slab keeps SLAB slices and only voxels farther than IN_PLANE_MARGIN from the
  ROI's bounding box are replaced by air (-1024 HU), which compresses to almost nothing.

With these choices every column except ``normalization`` matches the baseline as closely as the full volume
(tests/features/test_radiomics_baseline.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

SLAB = (24, 48)  # slices kept [start, stop); start even (see above); ROI spans slices 32-34
IN_PLANE_MARGIN = 12  # voxels of real CT kept around the ROI's in-plane bounding box
AIR = -1024


def main(src: Path, dst: Path) -> None:
    import numpy as np
    import SimpleITK as sitk

    image = sitk.ReadImage(str(src / "lung1_image.nrrd"))
    label = sitk.ReadImage(str(src / "lung1_label.nrrd"))
    stats = sitk.LabelShapeStatisticsImageFilter()
    stats.Execute(label)
    x, y, _, sx, sy, _ = stats.GetBoundingBox(1)
    values = sitk.GetArrayFromImage(image)  # (z, y, x)
    keep = np.zeros(values.shape, dtype=bool)
    m = IN_PLANE_MARGIN
    keep[:, max(0, y - m):y + sy + m, max(0, x - m):x + sx + m] = True
    blanked = sitk.GetImageFromArray(np.where(keep, values, AIR).astype(values.dtype))
    blanked.CopyInformation(image)
    size = [image.GetSize()[0], image.GetSize()[1], SLAB[1] - SLAB[0]]
    for name, img in (("image", blanked), ("label", label)):
        crop = sitk.RegionOfInterest(img, size, [0, 0, SLAB[0]])
        sitk.WriteImage(crop, str(dst / f"lung1_crop_{name}.nrrd"), useCompression=True)
    print("slab", SLAB, "size", size)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).resolve().parent)
