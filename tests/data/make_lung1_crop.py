"""Recreate lung1_crop_image.nrrd and lung1_crop_label.nrrd from PyRadiomics' lung1 sample.

Run once with the multisurv environment:  python tests/data/make_lung1_crop.py <radiomics-samples dir>

The crop is the bounding box of label 1 plus a margin of 8 voxels in-plane and 2 slices (clipped to the
volume). Origin and spacing are kept, so the crop lies exactly on the original voxel grid; with no
resampling and no filters PyRadiomics crops to the ROI anyway, so the crop's features equal the full
volume's (tests/features/test_radiomics.py checks this against PyRadiomics' baseline).
"""

from __future__ import annotations

import sys
from pathlib import Path

MARGIN = (8, 8, 2)  # voxels, (x, y, z)


def main(src: Path, dst: Path) -> None:
    import SimpleITK as sitk

    image = sitk.ReadImage(str(src / "lung1_image.nrrd"))
    label = sitk.ReadImage(str(src / "lung1_label.nrrd"))
    stats = sitk.LabelShapeStatisticsImageFilter()
    stats.Execute(label)
    box = stats.GetBoundingBox(1)  # (x, y, z, size_x, size_y, size_z)
    start = [max(0, box[i] - MARGIN[i]) for i in range(3)]
    stop = [min(image.GetSize()[i], box[i] + box[i + 3] + MARGIN[i]) for i in range(3)]
    size = [b - a for a, b in zip(start, stop)]
    for name, img in (("image", image), ("label", label)):
        crop = sitk.RegionOfInterest(img, size, start)
        sitk.WriteImage(crop, str(dst / f"lung1_crop_{name}.nrrd"), useCompression=True)
    print("crop index", start, "size", size)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).resolve().parent)
