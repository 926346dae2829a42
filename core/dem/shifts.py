"""The shift (m) of a fitted co-registration's :class:`~.transform.DemTransform`, as properties."""


class TransformShifts:
    """Mixin for result classes holding a ``transform``: ``shift_x_m``, ``shift_y_m``, ``shift_z_m`` (x east, y north,
    z up, m; the displacement applied to the DEM)."""

    @property
    def shift_x_m(self):
        return self.transform.shift_x_m

    @property
    def shift_y_m(self):
        return self.transform.shift_y_m

    @property
    def shift_z_m(self):
        return self.transform.shift_z_m
