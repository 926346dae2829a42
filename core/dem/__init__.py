"""DEM co-registration and elevation change (Nuth & Kääb 2011, vertical shift, deramp).

Public API:

* :func:`coregister` — fit, apply blockwise and report in one call;
* :class:`CoregPipeline` (``fit`` / ``apply``) with steps :class:`NuthKaab`,
  :class:`VerticalShift`, :class:`Deramp`; :func:`make_pipeline` builds one from the
  Processing choices;
* :class:`StableTerrain` — unstable outlines and/or mask raster;
* :class:`CoregResult` — shifts (m, px), stable-terrain statistics before/after, history;
* :func:`slope_aspect` (Horn 1981), :func:`write_report` (HTML with dh histograms).
"""

from .apply import apply_in_memory, apply_to_files
from .deramp import Deramp
from .nuth_kaab import NuthKaab
from .pipeline import CoregPipeline, CoregResult, coregister, make_pipeline, stable_terrain
from .stable import StableTerrain
from .terrain import slope_aspect
from .transform import DemTransform, Polynomial2D
from .vertical import VerticalShift

__all__ = ["CoregPipeline", "CoregResult", "Deramp", "DemTransform", "NuthKaab", "Polynomial2D", "StableTerrain",
           "VerticalShift", "apply_in_memory", "apply_to_files", "coregister", "make_pipeline", "slope_aspect",
           "stable_terrain"]
