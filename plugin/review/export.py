"""Export of reviewed outlines: accepted features to a new GeoPackage plus a summary.

The exported layer keeps every attribute (review fields included), so it can be
reviewed again or used directly as labels by the "Train segmentation model"
algorithm. The summary compares each accepted feature's size with its
predicted size (``predicted_size``, km² or km) to show how much review changed.
"""

import json
import os

from qgis.core import QgsFeatureRequest

from . import fields as F
from .session import status_of, value_of
from .storage import write_geopackage


def review_summary(layer):
    """Counts per status and size change of accepted features vs their prediction."""
    size = F.measure(layer)
    counts = dict.fromkeys(F.STATUSES, 0)
    accepted = edited = 0
    predicted_total = reviewed_total = 0.0
    for feature in layer.getFeatures():
        status = status_of(feature)
        counts[status if status in counts else F.UNREVIEWED] += 1
        if status != F.ACCEPTED:
            continue
        accepted += 1
        edited += 1 if value_of(feature, F.GEOMETRY_EDITED) else 0
        current = size(feature.geometry()) if feature.hasGeometry() else 0.0
        predicted = value_of(feature, F.PREDICTED_SIZE)
        reviewed_total += current
        predicted_total += float(predicted) if predicted is not None else current
    unit = "km2" if "Polygon" in _geometry_name(layer) else "km"
    change = reviewed_total - predicted_total
    return {
        "layer": layer.name(),
        "counts": counts,
        "total": sum(counts.values()),
        "reviewed": sum(counts.values()) - counts[F.UNREVIEWED],
        "accepted": accepted,
        "accepted_with_edited_geometry": edited,
        "size_unit": unit,
        f"accepted_predicted_{unit}": round(predicted_total, 6),
        f"accepted_reviewed_{unit}": round(reviewed_total, 6),
        f"change_{unit}": round(change, 6),
        "change_percent": round(100.0 * change / predicted_total, 3) if predicted_total else None,
    }


def _geometry_name(layer):
    from qgis.core import QgsWkbTypes

    return QgsWkbTypes.displayString(layer.wkbType())


def export_accepted(layer, path, layer_name="reviewed_outlines"):
    """Write accepted features of ``layer`` to the GeoPackage ``path`` and the summary beside it.

    Returns (path, summary dict). The summary is also saved as ``<path stem>_summary.json``.
    """
    accepted = layer.materialize(QgsFeatureRequest().setFilterExpression(f"\"{F.REVIEW_STATUS}\" = '{F.ACCEPTED}'"))
    write_geopackage(accepted, path, layer_name)
    summary = review_summary(layer)
    summary["exported_to"] = path
    with open(os.path.splitext(path)[0] + "_summary.json", "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=2)
    return path, summary
