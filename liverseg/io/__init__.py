"""Reading and writing: validated CT volumes (NIfTI, DICOM, 3D-IRCADb), file naming, atomic writes, `.keras` checkpoints."""
