"""SAR backscatter: incidence-angle normalization (Serac issue 5) and wet-snow / melt detection (issue 18).

Modules:

* :mod:`.units` — sigma0 in linear power vs dB: conversion, detection from metadata or values.
* :mod:`.lattice` — separable spline/linear interpolation on rectilinear lattices (shared helper).
* :mod:`.annotation` — Sentinel-1 annotation XML geolocation grid -> incidence angle (deg)
  on the image (line, pixel) grid or on a map grid.
* :mod:`.sources` — per-block providers of angle (deg), beta (dB/deg) and elevation (m) rasters
  on the backscatter grid.
* :mod:`.normalization` — the per-pixel methods (cosine law, linear in dB) and angle checks.
* :mod:`.regression` — vectorized least-squares lines (per pixel, per window, whole sample).
* :mod:`.beta_estimation` — beta from ascending/descending pairs (Chen et al. 2022) and from
  time series (per pixel).
* :mod:`.engine` — the blockwise raster driver writing normalized backscatter (dB).
* :mod:`.stack` — dated backscatter stacks of one relative orbit (dates from names, band descriptions, tags).
* :mod:`.local_incidence` — local incidence angle (deg) and layover/shadow mask from a DEM and the annotation.
* :mod:`.melt` — wet snow per date (Nagler et al. 2016 combined ratio, dB), melt onset/end/count (issue 18).

The core never imports QGIS.
"""
