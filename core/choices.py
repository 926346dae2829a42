"""The choice lists front ends show, as (value, label) pairs, defined once for every front end.

Dependency-free (no numpy), so Processing can build its dialogs before the compute packages
are installed. The compute modules check the values against these lists.
"""

#: Compute backends of the correlation and inversion algorithms (numpy or torch).
CORRELATION_BACKENDS = tuple((b, b) for b in ("auto", "numpy", "torch-cpu", "torch-cuda"))
#: Compute backends of neural-network inference (ONNX Runtime or torch).
INFERENCE_BACKENDS = tuple((b, b) for b in ("auto", "onnxruntime", "torch-cpu", "torch-cuda"))

#: Image prefilters before correlation (serac.core.velocity.prefilters).
PREFILTERS = (("wallis", "Wallis (local contrast standardization)"), ("highpass", "Gaussian high-pass"),
              ("orientation", "Orientation correlation (gradient directions)"), ("none", "None"))
#: Sub-pixel refinement of correlation peaks (serac.core.velocity.subpixel).
SUBPIXEL_METHODS = (("dft", "Spectral Newton refinement (accurate, default)"), ("parabolic", "Parabola (fast, biased)"),
                    ("gaussian", "Gaussian fit (fast, biased)"), ("none", "Integer pixels"))
#: Where the residual offset between the images (misregistration) is measured (serac.core.velocity).
OFFSET_CORRECTIONS = (("auto", "Stable areas or outlines if given, else the slow-moving points"),
                      ("polygons", "Stable areas or outlines only"), ("slow", "The slow-moving points"),
                      ("none", "None (keep the offsets as measured)"))
#: Speed colour scales of velocity rasters (resources/styles/velocity_speed_<scale>.qml).
SPEED_SCALES = (("linear", "Linear"), ("log", "Logarithmic (1 - 10 000 m/yr)"))

#: DEM co-registration methods and deramp orders (serac.core.dem).
DEM_METHODS = (("nuth_kaab", "Nuth & Kääb (2011): horizontal + vertical shift"), ("vertical", "Vertical shift only"))
DERAMP_ORDERS = ((0, "None"), (1, "Order 1 (plane)"), (2, "Order 2"), (3, "Order 3"))
#: Vertical datums of DEMs and elevation points (serac.core.dem.datum); 'unknown' reads a compound CRS if any.
VERTICAL_DATUMS = (("unknown", "Unknown (from a compound CRS, else not declared)"),
                   ("ellipsoid", "Ellipsoid (WGS 84 ellipsoidal heights)"), ("EGM96", "EGM96 geoid (orthometric)"),
                   ("EGM2008", "EGM2008 geoid (orthometric)"))
#: Variogram models of the dh errors (serac.core.dem.uncertainty): '+'-joined model kinds after a nugget.
VARIOGRAM_MODELS = (("spherical+spherical", "Two spherical (short and long range)"),
                    ("spherical", "One spherical"), ("exponential", "One exponential"), ("gaussian", "One Gaussian"),
                    ("spherical+exponential", "Spherical and exponential"))

#: SAR normalization methods, backscatter units and window estimators (serac.core.sar).
SAR_METHODS = (("cosine", "Cosine law: sigma0 x cos^n(ref) / cos^n(angle)"),
               ("linear", "Linear in dB with a given beta (number or raster)"),
               ("pair", "Linear in dB, beta from an ascending/descending pair (Chen et al. 2022)"),
               ("timeseries", "Linear in dB, beta per pixel from a time series"))
SAR_UNITS = (("auto", "Detect (metadata, then values)"), ("dB", "dB"), ("linear", "Linear power"))
BETA_ESTIMATORS = (("median", "Median ratio (robust)"), ("ls", "Least squares through the origin"))

#: Velocity time series: input units, regularisation, smoothness order, robust weights, pair weights.
VELOCITY_UNITS = (("auto", "From the metadata (m/yr when none)"), ("m/yr", "m/yr"), ("m/day", "m/day"))
LAMBDA_MODES = (("auto", "Automatic, per pixel (generalised cross-validation)"), ("fixed", "Fixed value (below)"))
SMOOTHNESS_ORDERS = ((1, "First derivative (changes between steps)"), (2, "Second derivative (curvature)"))
ROBUST_WEIGHTS = (("tukey", "Tukey biweight (down-weights, rejects far outliers; slower)"),
                  ("huber", "Huber (down-weights; slower)"), ("none", "None (plain weighted least squares)"),
                  ("reject", "Reject pairs inconsistent with the others, given their errors (fast)"))
PAIR_WEIGHTINGS = (("auto", "Pair errors when every pair has one, else baseline"),
                   ("baseline", "Baseline (error inversely proportional to the baseline)"),
                   ("error", "Pair errors (from the metadata)"), ("uniform", "Uniform"))

#: Masking: which side of the outlines to keep.
MASK_KEEP = (("inside", "Inside the outlines (glaciers)"), ("outside", "Outside the outlines (stable ground)"))

#: Crevasse and fracture mapping methods (serac.core.fractures).
FRACTURE_METHODS = (("filter_bank", "Directional filter bank (Gabor, training-free)"),
                    ("model", "Learned model (ONNX; default: the shipped ice-shelf model, 125 m)"))
FRACTURE_POLARITIES = (("dark", "Dark lines (shadowed crevasses, open rifts)"), ("bright", "Bright lines"))


def values(choices):
    """The values of a choice list."""
    return tuple(v for v, _ in choices)

#: Wet-snow detection (serac.core.sar.melt): polarisation rule and dry-snow reference statistic.
MELT_RULES = (("dual", "Combined ratio of VH and VV (Nagler et al. 2016); single-pol when VH is missing"),
              ("single", "Single polarisation: ratio of VV (or HH) only (Nagler & Rott 2000)"))
MELT_REFERENCE_STATS = (("mean", "Mean of the linear power (average backscatter)"),
                        ("median", "Median in dB (robust to a disturbed winter date)"))
BASELINE_METHODS = (("ndsi", "NDSI = (green - SWIR) / (green + SWIR)"), ("band_ratio", "Band ratio red / SWIR"))
