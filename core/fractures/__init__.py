"""Crevasses, rifts and fractures from one image: a directional (Gabor) filter bank or a segmentation model,
then fracture lines, density and dominant orientation per window. See :mod:`.filterbank`, :mod:`.lines`,
:mod:`.density` and :mod:`.mapping` (the blockwise driver); the job is :mod:`serac.core.jobs.fractures`."""
