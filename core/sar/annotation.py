"""Incidence angle (degrees) from the Sentinel-1 product annotation.

Every Sentinel-1 product annotation XML (``annotation/s1?-*.xml`` in a SAFE folder) holds a
*geolocation grid*: points on a line/pixel lattice (about 10-20 lines x 21 pixels over the
whole image) giving, for image line and pixel, latitude and longitude (deg), height (m),
incidence angle and elevation angle (deg).

* On the **image grid** (radar geometry: rows = lines, columns = pixels, as in GRD/SLC
  measurement TIFFs or a multilooked copy of them) the incidence angle is interpolated
  separably: a not-a-knot cubic spline along the pixels of each lattice line, then along the
  lines (:class:`IncidenceAngleModel.on_image`). The spline passes through the lattice nodes,
  so the annotation values are reproduced exactly; between nodes the error, measured by
  predicting held-out nodes from the others, is about 1e-3 deg (see docs/validation/sar.md).
* On a **map grid** (a georeferenced product, e.g. terrain-corrected GRD) each map pixel's
  lon/lat is converted to (line, pixel) by inverting the same separable interpolation of the
  lattice's latitude/longitude (polynomial first guess, then Newton iterations), and the
  angle is interpolated there (:class:`IncidenceAngleModel.on_map`). This is exact at the
  lattice points; it ignores relief between them (the lattice lon/lat are at the heights in
  the grid), which shifts positions by roughly dh/tan(incidence) and the angle by
  about 0.06 deg per km of such shift in IW mode.

Only the lattice is used (no orbit propagation), which is what the annotation is designed for.
"""

import csv
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from . import lattice

FIELDS = ("latitude", "longitude", "height", "incidenceAngle", "elevationAngle")


@dataclass
class GeolocationGrid:
    """Lattice of geolocation points: ``lines`` (nL,), ``pixels`` (nL, nP) and fields (nL, nP).

    Field names are those of the annotation: latitude, longitude (deg), height (m),
    incidenceAngle, elevationAngle (deg).
    """

    lines: np.ndarray
    pixels: np.ndarray
    fields: dict

    @classmethod
    def from_points(cls, line, pixel, values):
        """Build the lattice from flat point lists (``values``: name -> 1-D array).

        Points are grouped by line; every line must have the same number of distinct pixels.
        Duplicated points (same line and pixel) are averaged.
        """
        line = np.asarray(line, dtype=np.float64)
        pixel = np.asarray(pixel, dtype=np.float64)
        if line.size < 4:
            raise InputError(f"The geolocation grid has only {line.size} point(s).",
                             "use a complete Sentinel-1 annotation XML (annotation/s1*.xml in the SAFE folder).")
        ulines = np.unique(line)
        upix_per_line = [np.unique(pixel[line == u]) for u in ulines]
        counts = {p.size for p in upix_per_line}
        if len(counts) != 1:
            raise InputError("The geolocation grid is not a complete line/pixel lattice "
                             f"(lines have {sorted(counts)} points).",
                             "use the geolocation grid of a single swath annotation file.")
        n_pix = counts.pop()
        pixels = np.vstack(upix_per_line)
        out = {}
        for name, v in values.items():
            v = np.asarray(v, dtype=np.float64)
            grid = np.zeros((ulines.size, n_pix))
            for i, u in enumerate(ulines):
                sel = line == u
                j = np.searchsorted(pixels[i], pixel[sel])
                sums = np.bincount(j, weights=v[sel], minlength=n_pix)
                grid[i] = sums / np.bincount(j, minlength=n_pix)
            out[name] = grid
        return cls(ulines, pixels, out)

    @property
    def shape(self):
        return self.pixels.shape

    @property
    def incidence(self):
        """Incidence angle at the lattice nodes (deg), (nL, nP)."""
        return self.fields["incidenceAngle"]

    def points(self):
        """Flat arrays (line, pixel, fields...) of every node."""
        lines = np.repeat(self.lines, self.pixels.shape[1])
        return lines, self.pixels.ravel(), {k: v.ravel() for k, v in self.fields.items()}

    def subset(self, line_index=slice(None), pixel_index=slice(None)):
        """A lattice of a subset of lines/pixels (e.g. every other node, for hold-out checks)."""
        return GeolocationGrid(self.lines[line_index], self.pixels[line_index][:, pixel_index],
                               {k: v[line_index][:, pixel_index] for k, v in self.fields.items()})


@dataclass
class Annotation:
    """What Serac uses from a Sentinel-1 annotation XML."""

    path: str
    geolocation: GeolocationGrid
    number_of_lines: int
    number_of_samples: int
    mission: str = ""
    mode: str = ""
    swath: str = ""
    polarisation: str = ""
    pass_direction: str = ""
    product_type: str = ""
    extra: dict = field(default_factory=dict)

    def describe(self):
        inc = self.geolocation.incidence
        return (f"{self.mission} {self.mode} {self.product_type} {self.swath} {self.polarisation} "
                f"{self.pass_direction}, {self.number_of_lines} lines x {self.number_of_samples} pixels, "
                f"geolocation grid {self.geolocation.shape[0]}x{self.geolocation.shape[1]} points, "
                f"incidence {inc.min():.2f}-{inc.max():.2f} deg")


def _text(root, path, default=""):
    node = root.find(path)
    return node.text.strip() if node is not None and node.text else default


def read_annotation(path):
    """Parse a Sentinel-1 annotation XML file into an :class:`Annotation`."""
    path = os.fspath(path)
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise InputError(f"Cannot read the annotation XML '{path}': {exc}.",
                         "choose the product annotation file (SAFE folder, annotation/s1*.xml).") from None
    points = root.findall("./geolocationGrid/geolocationGridPointList/geolocationGridPoint")
    if not points:
        raise InputError(f"'{os.path.basename(path)}' has no geolocation grid.",
                         "choose a Sentinel-1 product annotation file (annotation/s1*.xml, not calibration/noise).")
    try:
        line = [float(p.findtext("line")) for p in points]
        pixel = [float(p.findtext("pixel")) for p in points]
        values = {name: [float(p.findtext(name)) for p in points] for name in FIELDS}
    except (TypeError, ValueError):
        raise InputError(f"The geolocation grid of '{os.path.basename(path)}' has missing or non-numeric values.",
                         "use an unmodified Sentinel-1 annotation XML.") from None
    info = "./imageAnnotation/imageInformation/"
    header = "./adsHeader/"
    try:
        n_lines = int(_text(root, info + "numberOfLines"))
        n_samples = int(_text(root, info + "numberOfSamples"))
    except ValueError:
        n_lines = int(max(line)) + 1
        n_samples = int(max(pixel)) + 1
    return Annotation(
        path=path,
        geolocation=GeolocationGrid.from_points(line, pixel, values),
        number_of_lines=n_lines,
        number_of_samples=n_samples,
        mission=_text(root, header + "missionId"),
        mode=_text(root, header + "mode"),
        swath=_text(root, header + "swath"),
        polarisation=_text(root, header + "polarisation"),
        pass_direction=_text(root, "./generalAnnotation/productInformation/pass"),
        product_type=_text(root, header + "productType"),
        extra={"range_pixel_spacing_m": _text(root, info + "rangePixelSpacing"),
               "azimuth_pixel_spacing_m": _text(root, info + "azimuthPixelSpacing")},
    )


def read_geolocation_csv(path):
    """Read a geolocation grid exported as CSV (columns line, pixel, latitude, longitude, height,
    incidenceAngle, elevationAngle; others ignored)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    missing = [c for c in ("line", "pixel") + FIELDS if not rows or c not in rows[0]]
    if missing:
        raise InputError(f"The geolocation CSV '{os.path.basename(str(path))}' lacks column(s) {missing}.",
                         "export line, pixel, latitude, longitude, height, incidenceAngle, elevationAngle.")
    line = [float(r["line"]) for r in rows]
    pixel = [float(r["pixel"]) for r in rows]
    return GeolocationGrid.from_points(line, pixel, {n: [float(r[n]) for r in rows] for n in FIELDS})


def _wrap_lon(lon, lon0):
    """Longitudes unwrapped to within 180 deg of ``lon0`` (antimeridian-safe)."""
    return (np.asarray(lon, dtype=np.float64) - lon0 + 180.0) % 360.0 - 180.0 + lon0


HEIGHT_FIELDS = ("incidenceAngle", "elevationAngle", "longitude", "latitude")


@dataclass(frozen=True)
class HeightTerm:
    """Linear height dependence of a lattice field at fixed (line, pixel).

    ``d field / d height = k0 + k1 * pixel / pixel_scale`` (field units per m). The
    geolocation grid samples the terrain at its nodes' heights, so the incidence angle and
    lon/lat of a node contain a height effect (about +0.15 to +0.25 deg/km for the incidence
    angle in the test products). Removing it before interpolating leaves a smooth field.
    """

    k0: float = 0.0
    k1: float = 0.0
    pixel_scale: float = 1.0

    def at(self, pixels):
        return self.k0 + self.k1 * np.asarray(pixels, dtype=np.float64) / self.pixel_scale

    @property
    def slope(self):
        """d k / d pixel."""
        return self.k1 / self.pixel_scale


def fit_height_terms(geolocation, names=HEIGHT_FIELDS, degree=5, min_height_spread=50.0):
    """Least-squares fit of ``field = poly(line, pixel) + (k0 + k1 * pixel/P) * height`` on the nodes.

    ``poly`` is a full polynomial of ``degree`` (lowered when nodes are few). Returns
    {name: :class:`HeightTerm`}; zero terms when node heights vary by less than
    ``min_height_spread`` m (the effect cannot be separated then).
    """
    lines, pixels, fields = geolocation.points()
    h = fields["height"]
    p_scale = max(float(pixels.max()), 1.0)
    if np.std(h) < min_height_spread:
        return {n: HeightTerm(pixel_scale=p_scale) for n in names}
    u = (lines - lines.min()) / max(np.ptp(lines), 1.0)
    v = pixels / p_scale
    while degree > 1 and (degree + 1) * (degree + 2) // 2 + 2 > lines.size // 2:
        degree -= 1
    design = np.column_stack([u ** i * v ** j for i in range(degree + 1) for j in range(degree + 1 - i)]
                             + [h, h * v])
    lon0 = float(np.median(fields["longitude"]))
    targets = np.column_stack([_wrap_lon(fields[n], lon0) if n == "longitude" else fields[n] for n in names])
    coef, *_ = np.linalg.lstsq(design, targets, rcond=None)
    return {n: HeightTerm(float(coef[-2, i]), float(coef[-1, i]), p_scale) for i, n in enumerate(names)}


class IncidenceAngleModel:
    """Interpolates geolocation-grid fields onto image (line, pixel) positions or map coordinates.

    Fields with a height dependence (incidence and elevation angle, lon, lat) are interpolated
    height-aware: the fitted height term (:func:`fit_height_terms`) is removed at the nodes, the
    smooth remainder is interpolated separably (``kind`` 'cubic' or 'linear' along each lattice
    axis) and the term is added back for the height of the target: a DEM height (m) when given,
    else the interpolated node height. Without a DEM this reproduces the nodes exactly and is
    otherwise close to plain interpolation; with a DEM it follows the relief between nodes.

    ``image_shape`` is (number of lines, number of pixels) of the annotated image; positions
    more than ``margin`` px outside it give NaN.
    """

    def __init__(self, geolocation, image_shape=None, kind="cubic", margin=0.5, height_aware=True):
        self.grid = geolocation
        if image_shape is None:
            image_shape = (int(geolocation.lines[-1]) + 1, int(geolocation.pixels.max()) + 1)
        self.image_shape = tuple(int(v) for v in image_shape)
        self.kind = kind
        self.margin = float(margin)
        self._line_basis = lattice.Basis(geolocation.lines, kind)
        same = bool(np.all(geolocation.pixels == geolocation.pixels[0]))
        first = lattice.Basis(geolocation.pixels[0], kind)
        self._pixel_bases = [first] * len(geolocation.lines) if same else [
            lattice.Basis(p, kind) for p in geolocation.pixels]
        self._shared_pixels = same
        self._lon0 = float(np.median(geolocation.fields["longitude"]))
        self.height_terms = fit_height_terms(geolocation) if height_aware else {}
        self._smooth = {}
        self._inverse = None

    @classmethod
    def from_annotation(cls, annotation, kind="cubic", **kwargs):
        return cls(annotation.geolocation, (annotation.number_of_lines, annotation.number_of_samples), kind,
                   **kwargs)

    @classmethod
    def from_file(cls, path, kind="cubic", **kwargs):
        """From an annotation XML (or a geolocation-grid CSV, then the image size is the lattice extent)."""
        if str(path).lower().endswith(".csv"):
            return cls(read_geolocation_csv(path), kind=kind, **kwargs)
        return cls.from_annotation(read_annotation(path), kind, **kwargs)

    def _term(self, name):
        term = self.height_terms.get(name)
        return term if term is not None and (term.k0 or term.k1) else None

    def _node_values(self, name):
        """Node values with the height term removed (lon unwrapped around the scene)."""
        if name not in self._smooth:
            values = self.grid.fields[name]
            if name == "longitude":
                values = _wrap_lon(values, self._lon0)
            term = self._term(name)
            if term is not None:
                values = values - term.at(self.grid.pixels) * self.grid.fields["height"]
            self._smooth[name] = values
        return self._smooth[name]

    # -- image geometry -------------------------------------------------------------
    def _separable(self, values, lines, pixels):
        if self._shared_pixels:
            return lattice.separable(values, self._line_basis.weights(lines),
                                     self._pixel_bases[0].weights(pixels), np.float64)
        rows = np.stack([b.weights(pixels) @ values[i] for i, b in enumerate(self._pixel_bases)])
        return self._line_basis.weights(lines) @ rows

    def on_image(self, lines, pixels, name="incidenceAngle", heights=None, dtype=np.float32):
        """Field on the image block of 1-D ``lines`` x ``pixels`` (float positions allowed): (nl, np).

        ``heights`` (m), an optional (nl, np) array of terrain heights (e.g. a DEM in radar
        geometry); NaN heights fall back to the interpolated node height.
        """
        lines = np.asarray(lines, dtype=np.float64)
        pixels = np.asarray(pixels, dtype=np.float64)
        out = self._separable(self._node_values(name), lines, pixels)
        term = self._term(name)
        if term is not None:
            h = self._separable(self.grid.fields["height"], lines, pixels)
            if heights is not None:
                h = np.where(np.isfinite(heights), heights, h)
            out += term.at(pixels)[None, :] * h
        outside = self._outside(lines[:, None], pixels[None, :])
        if np.any(outside):
            out = np.where(outside, np.nan, out)
        return out.astype(dtype, copy=False)

    def _outside(self, lines, pixels):
        m = self.margin
        return ((lines < -m) | (lines > self.image_shape[0] - 1 + m)
                | (pixels < -m) | (pixels > self.image_shape[1] - 1 + m))

    def _point_weights(self, lines, pixels, derivatives):
        """Interpolation weights of scattered points: line weights (npts, nL) and, per lattice
        line (one shared entry when all lines have the same pixels), pixel weights (npts, nP)."""
        w = {"line": self._line_basis.weights(lines)}
        bases = self._pixel_bases[:1] if self._shared_pixels else self._pixel_bases
        w["pixel"] = [b.weights(pixels) for b in bases]
        if derivatives:
            w["d_line"] = self._line_basis.weights(lines, 1)
            w["d_pixel"] = [b.weights(pixels, 1) for b in bases]
        return w

    def _rows_at(self, values, pixel_weights):
        """(npts, nL): each lattice line interpolated at each point's pixel."""
        if self._shared_pixels:
            return pixel_weights[0] @ values.T
        return np.stack([wp @ values[i] for i, wp in enumerate(pixel_weights)], axis=1)

    def _interp_points(self, values, w):
        rows = self._rows_at(values, w["pixel"])
        value = np.einsum("pi,pi->p", w["line"], rows)
        if "d_line" not in w:
            return value, 0.0, 0.0
        d_line = np.einsum("pi,pi->p", w["d_line"], rows)
        d_pixel = np.einsum("pi,pi->p", w["line"], self._rows_at(values, w["d_pixel"]))
        return value, d_line, d_pixel

    def at_points(self, lines, pixels, name="incidenceAngle", heights=None, derivatives=False):
        """Field at scattered (line, pixel) points (1-D arrays), at terrain ``heights`` (m, optional,
        same length; NaN = interpolated node height). With ``derivatives`` also returns d/dline and
        d/dpixel (at fixed given height). No outside-image masking. ``name`` may be a tuple of
        field names: then a tuple of results is returned."""
        lines = np.asarray(lines, dtype=np.float64).ravel()
        pixels = np.asarray(pixels, dtype=np.float64).ravel()
        names = (name,) if isinstance(name, str) else tuple(name)
        w = self._point_weights(lines, pixels, derivatives)
        height = None
        out = []
        for field_name in names:
            value, d_line, d_pixel = self._interp_points(self._node_values(field_name), w)
            term = self._term(field_name)
            if term is not None:
                if height is None:
                    height = self._point_heights(w, heights, derivatives)
                h, h_dl, h_dp = height
                k = term.at(pixels)
                value = value + k * h
                if derivatives:
                    d_line = d_line + k * h_dl
                    d_pixel = d_pixel + term.slope * h + k * h_dp
            out.append((value, d_line, d_pixel) if derivatives else value)
        return out[0] if isinstance(name, str) else tuple(out)

    def _point_heights(self, w, heights, derivatives):
        """Terrain height (m) at the points and its derivatives: given heights, else node heights."""
        h, h_dl, h_dp = self._interp_points(self.grid.fields["height"], w)
        if heights is not None:
            given_h = np.asarray(heights, dtype=np.float64).ravel()
            given = np.isfinite(given_h)
            h = np.where(given, given_h, h)
            if derivatives:
                h_dl = np.where(given, 0.0, h_dl)
                h_dp = np.where(given, 0.0, h_dp)
        return h, h_dl, h_dp

    # -- map geometry ---------------------------------------------------------------
    def _first_guess(self, lon, lat):
        """Cubic polynomial (line, pixel) = f(lon, lat) fitted to the lattice nodes."""
        if self._inverse is None:
            lines, pixels, fields = self.grid.points()
            lo = _wrap_lon(fields["longitude"], self._lon0)
            la = fields["latitude"]
            centre = (lo.mean(), la.mean())
            scale = (max(np.ptp(lo), 1e-9), max(np.ptp(la), 1e-9))
            design = self._poly((lo - centre[0]) / scale[0], (la - centre[1]) / scale[1])
            coef, *_ = np.linalg.lstsq(design, np.column_stack([lines, pixels]), rcond=None)
            self._inverse = (centre, scale, coef)
        centre, scale, coef = self._inverse
        guess = self._poly((lon - centre[0]) / scale[0], (lat - centre[1]) / scale[1]) @ coef
        return guess[:, 0], guess[:, 1]

    @staticmethod
    def _poly(u, v):
        return np.column_stack([u ** i * v ** j for i in range(4) for j in range(4 - i)])

    def lonlat_to_image(self, lon, lat, heights=None, iterations=10, tolerance=1e-4):
        """(line, pixel) of lon/lat points (deg) at terrain ``heights`` (m, optional), inverting the
        lattice interpolation.

        Newton iterations from a polynomial first guess; converges to ``tolerance`` px at
        interior points. Points outside the image (beyond ``margin``) get NaN.
        """
        lon = _wrap_lon(np.asarray(lon, dtype=np.float64).ravel(), self._lon0)
        lat = np.asarray(lat, dtype=np.float64).ravel()
        line, pixel = self._first_guess(lon, lat)
        hi_l, hi_p = self.image_shape[0] + 50.0, self.image_shape[1] + 50.0
        for _ in range(iterations):
            (lo_v, lo_dl, lo_dp), (la_v, la_dl, la_dp) = self.at_points(
                line, pixel, ("longitude", "latitude"), heights, derivatives=True)
            r_lo, r_la = lon - lo_v, lat - la_v
            det = lo_dl * la_dp - lo_dp * la_dl
            with np.errstate(divide="ignore", invalid="ignore"):
                step_l = (r_lo * la_dp - lo_dp * r_la) / det
                step_p = (lo_dl * r_la - r_lo * la_dl) / det
            line = np.clip(line + step_l, -50.0, hi_l)
            pixel = np.clip(pixel + step_p, -50.0, hi_p)
            if np.nanmax(np.abs(np.concatenate([step_l, step_p])), initial=0.0) < tolerance:
                break
        bad = self._outside(line, pixel) | ~np.isfinite(line) | ~np.isfinite(pixel)
        line[bad] = np.nan
        pixel[bad] = np.nan
        return line, pixel

    def at_lonlat(self, lon, lat, name="incidenceAngle", heights=None):
        """Field at lon/lat points (deg), at terrain ``heights`` (m, optional); NaN outside the footprint."""
        line, pixel = self.lonlat_to_image(lon, lat, heights)
        out = np.full(line.shape, np.nan)
        ok = np.isfinite(line)
        if np.any(ok):
            h = None if heights is None else np.asarray(heights, dtype=np.float64).ravel()[ok]
            out[ok] = self.at_points(line[ok], pixel[ok], name, h)
        return out

    def on_map(self, xs, ys, crs, name="incidenceAngle", heights=None):
        """Field at map coordinates ``xs``, ``ys`` (same shape) in ``crs`` (EPSG:4326 if None), at
        terrain ``heights`` (m, same shape, optional); NaN outside the footprint."""
        xs = np.asarray(xs, dtype=np.float64)
        lon, lat = to_lonlat(xs, ys, crs)
        h = None if heights is None else np.asarray(heights, dtype=np.float64).ravel()
        return self.at_lonlat(lon, lat, name, h).reshape(xs.shape)


def to_lonlat(xs, ys, crs):
    """Flat lon/lat arrays (deg, WGS 84) of map coordinates in ``crs`` (None = already lon/lat)."""
    from rasterio.warp import transform

    xs = np.asarray(xs, dtype=np.float64).ravel()
    ys = np.asarray(ys, dtype=np.float64).ravel()
    if crs is None or (crs.is_geographic and crs.to_epsg() == 4326):
        return xs, ys
    lon, lat = transform(crs, "EPSG:4326", xs, ys)
    return np.asarray(lon), np.asarray(lat)
