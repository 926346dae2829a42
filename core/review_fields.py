"""The review fields every reviewable output carries (names, types, statuses, colours), defined once.

Plain data, no QGIS: the segmentation algorithms write these fields and the
"Outline review" dock (plugin/review) reads and writes them.
"""

REVIEW_STATUS = "review_status"
REVIEWER = "reviewer"
REVIEWED_AT = "reviewed_at"  # ISO 8601, UTC
REVIEW_COMMENT = "review_comment"
GEOMETRY_EDITED = "geometry_edited"  # 1 if a reviewer changed the geometry
PREDICTED_SIZE = "predicted_size"  # km² for polygons, km for lines, as first predicted (ellipsoidal)

#: (name, type) in the order written; types as in processing_provider.compat.field_type.
FIELD_SPEC = ((REVIEW_STATUS, "String"), (REVIEWER, "String"), (REVIEWED_AT, "String"),
              (REVIEW_COMMENT, "String"), (GEOMETRY_EDITED, "Int"), (PREDICTED_SIZE, "Double"))

UNREVIEWED, ACCEPTED, REJECTED, NEEDS_EDIT = "unreviewed", "accepted", "rejected", "needs_edit"
STATUSES = (UNREVIEWED, ACCEPTED, REJECTED, NEEDS_EDIT)
STATUS_LABELS = {UNREVIEWED: "Unreviewed", ACCEPTED: "Accepted", REJECTED: "Rejected", NEEDS_EDIT: "Needs edit"}
#: One colour per status, shared by the dock and the review_status_* QML styles (scripts/make_styles.py).
STATUS_COLOURS = {UNREVIEWED: "#00b8d4", ACCEPTED: "#2e7d32", REJECTED: "#c62828", NEEDS_EDIT: "#ef6c00"}


def initial_values(predicted_size):
    """Review values of a freshly predicted feature: unreviewed, not edited, its size (km² or km)."""
    return {REVIEW_STATUS: UNREVIEWED, REVIEWER: None, REVIEWED_AT: None, REVIEW_COMMENT: None,
            GEOMETRY_EDITED: 0, PREDICTED_SIZE: None if predicted_size is None else round(float(predicted_size), 6)}


def with_review_fields(field_spec):
    """``field_spec`` [(name, type)] followed by the review fields it lacks."""
    names = {name for name, _ in field_spec}
    return list(field_spec) + [item for item in FIELD_SPEC if item[0] not in names]
