"""Crevasses, rifts and fractures from one image: a directional (Gabor) filter bank or a segmentation model,
then fracture lines, density and dominant orientation per window. See :mod:`.filterbank`, :mod:`.lines`,
:mod:`.density` and :mod:`.mapping` (the blockwise driver); the job is :mod:`serac.core.jobs.fractures`."""

#: Review fields of the fracture lines, (name, type) as the outline layers carry them (core/review_fields.py on
#: the review branch); plain data, so the Processing adapter can import it before numpy is installed.
REVIEW_FIELDS = (("review_status", "String"), ("reviewer", "String"), ("reviewed_at", "String"),
                 ("review_comment", "String"), ("geometry_edited", "Int"), ("predicted_size", "Double"))
