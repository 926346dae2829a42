"""What a co-registration does to the DEM to be aligned: a shift plus an optional ramp.

The aligned DEM at map position p (x east, y north, m, on the working grid) is::

    aligned(p) = dem(p - (shift_x_m, shift_y_m)) + shift_z_m + ramp(p)

so ``shift_*`` is the displacement applied to the DEM to be aligned (x east, y north,
z up, metres) and ``ramp`` is the sum of the polynomial corrections (m) of any deramp
steps, evaluated at the aligned position.
"""

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Polynomial2D:
    """z = sum c_k u^i v^j over i + j <= order, with u = (x - x0) / scale, v = (y - y0) / scale.

    Coordinates in m, values in m. Normalizing by ``scale`` (half the grid extent)
    keeps the least-squares problem well conditioned up to order 3.
    """

    order: int
    x0: float
    y0: float
    scale: float
    coefficients: tuple = ()

    @staticmethod
    def powers(order):
        """(i, j) exponents of u and v, in the order of the coefficients."""
        return [(d - j, j) for d in range(order + 1) for j in range(d + 1)]

    def design(self, x, y):
        """Design matrix (n, terms) at coordinates x, y (m)."""
        u = (np.asarray(x, dtype=np.float64).ravel() - self.x0) / self.scale
        v = (np.asarray(y, dtype=np.float64).ravel() - self.y0) / self.scale
        return np.stack([u ** i * v ** j for i, j in self.powers(self.order)], axis=1)

    def __call__(self, x, y):
        x = np.asarray(x)
        return (self.design(x, y) @ np.asarray(self.coefficients)).reshape(x.shape).astype(np.float32)

    def to_dict(self):
        return {"order": self.order, "x0": self.x0, "y0": self.y0, "scale": self.scale,
                "powers": [list(p) for p in self.powers(self.order)],
                "coefficients": [float(c) for c in self.coefficients]}


@dataclass(frozen=True)
class DemTransform:
    """Shift (m; x east, y north, z up) and ramps (m) applied to the DEM to be aligned."""

    shift_x_m: float = 0.0
    shift_y_m: float = 0.0
    shift_z_m: float = 0.0
    ramps: tuple = ()

    def moved(self, dx=0.0, dy=0.0, dz=0.0):
        """This transform followed by a further shift (m)."""
        return replace(self, shift_x_m=self.shift_x_m + float(dx), shift_y_m=self.shift_y_m + float(dy),
                       shift_z_m=self.shift_z_m + float(dz))

    def with_ramp(self, ramp):
        """This transform plus a polynomial correction (m)."""
        return replace(self, ramps=self.ramps + (ramp,))

    def vertical(self, x, y):
        """Vertical correction (m) at aligned positions x, y (m, working CRS): shift_z plus ramps."""
        out = np.full(np.shape(x), self.shift_z_m, dtype=np.float32)
        for ramp in self.ramps:
            out += ramp(x, y)
        return out
