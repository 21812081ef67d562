"""A LiTS label volume of a DICOM CT series as a DICOM Segmentation object (highdicom).

`write_dicom_seg(labels, series_folder, out_path)` reads the source series' headers, orders the
slices along the slice normal exactly as `liverseg.io.dicom.read_dicom_series` stacks them, and
writes a BINARY Segmentation that references every source image (same Study, Frame of Reference;
a new Series). Two segments, always described:

    1  "Liver"         label 1 (liver tissue without the tumours)
    2  "Liver tumour"  label 2

A series without a FrameOfReferenceUID (3D-IRCADb has none) is given one derived from its
SeriesInstanceUID, the same on every run. Frames are stored only where a segment has voxels (highdicom's `omit_empty_frames`), so the
object holds one frame per (segment, slice) pair with that segment present (`expected_frames`).
`labels` are in the stored layout of the series (columns, rows, slices), i.e.
`volume.to_original(canonical_labels)` of the `Volume` read from that folder.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from liverseg.errors import InputError
from liverseg.io.atomic import atomic_path

SEGMENTS = ((1, "Liver"), (2, "Liver tumour"))
SERIES_DESCRIPTION = "liverseg liver / liver tumour segmentation"


def expected_frames(labels: np.ndarray) -> int:
    """Frames of the Segmentation written for `labels` (columns, rows, slices): slices holding label 1
    plus slices holding label 2."""
    labels = np.asarray(labels)
    return int(sum((labels == k).any(axis=(0, 1)).sum() for k, _ in SEGMENTS))


def _sorted_sources(series_folder: Path, source: str):
    import pydicom

    from liverseg.io.dicom import read_dicom_series

    # read_dicom_series validates the series and gives the files in stacking order
    files = read_dicom_series(series_folder, values="raw").files
    try:
        datasets = [pydicom.dcmread(str(p)) for p in files]
    except (OSError, ValueError) as err:  # validated above; a file changed meanwhile
        raise InputError(source, f"cannot re-read the DICOM series ({type(err).__name__}: {err})") from None
    if not all(ds.get("FrameOfReferenceUID") for ds in datasets):
        # 3D-IRCADb's series carry none; the Segmentation IOD needs one: derived from the series UID
        # (the same for every slice and every run), so several objects on one series share it
        uid = pydicom.uid.generate_uid(entropy_srcs=[str(datasets[0].get("SeriesInstanceUID", source)),
                                                     "FrameOfReferenceUID"])
        for ds in datasets:
            ds.FrameOfReferenceUID = ds.get("FrameOfReferenceUID") or uid
    return datasets


def _descriptions(version: str):
    import highdicom as hd
    from pydicom.sr.codedict import codes

    algorithm = hd.AlgorithmIdentificationSequence(name="liverseg", version=version,
                                                   family=codes.cid7162.ArtificialIntelligence)
    liver = hd.seg.SegmentDescription(
        segment_number=1, segment_label=SEGMENTS[0][1], segmented_property_category=codes.SCT.Organ,
        segmented_property_type=codes.SCT.Liver, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=algorithm)
    tumour = hd.seg.SegmentDescription(
        segment_number=2, segment_label=SEGMENTS[1][1],
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=algorithm, anatomic_regions=[codes.SCT.Liver])
    return [liver, tumour]


def write_dicom_seg(labels: np.ndarray, series_folder, out_path, source: str | None = None) -> Path:
    """Write `labels` (stored layout of the series in `series_folder`, values 0/1/2) as a DICOM SEG at
    `out_path`, atomically. `source` names the input in messages (default: the folder)."""
    import highdicom as hd

    from liverseg import __version__

    series_folder, out_path = Path(series_folder), Path(out_path)
    source = source or str(series_folder)
    sources = _sorted_sources(series_folder, source)
    labels = np.asarray(labels)
    rows, cols = int(sources[0].Rows), int(sources[0].Columns)
    if labels.shape != (cols, rows, len(sources)):
        raise ValueError(f"labels of shape {labels.shape} do not match the series ({cols}, {rows}, {len(sources)})")
    frames = np.ascontiguousarray(np.transpose(labels, (2, 1, 0)).astype(np.uint8))  # (slices, rows, columns)
    try:
        seg = hd.seg.Segmentation(
            source_images=sources, pixel_array=frames, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=_descriptions(__version__), series_instance_uid=hd.UID(), series_number=900,
            sop_instance_uid=hd.UID(), instance_number=1, manufacturer="liverseg",
            manufacturer_model_name="liverseg", software_versions=__version__, device_serial_number="0",
            series_description=SERIES_DESCRIPTION, content_label="LIVERSEG", omit_empty_frames=True)
    except (ValueError, TypeError, AttributeError) as err:  # highdicom refuses the source headers
        raise InputError(source, f"cannot make a DICOM Segmentation from this series ({err})") from None
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_path) as tmp:
        seg.save_as(str(tmp))
    return out_path


__all__ = ["SEGMENTS", "expected_frames", "write_dicom_seg"]
