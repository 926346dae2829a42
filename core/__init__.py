"""Serac compute core.

Plain Python on numpy, scipy, rasterio (and torch / onnxruntime where a module
says so). Nothing in this package may import ``qgis``: it runs and is tested
without QGIS, and the Processing provider is a thin layer over it.
"""
