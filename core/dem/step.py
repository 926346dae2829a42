"""Base class of co-registration steps (xDEM-style composable pieces).

A step looks at the stable-terrain sample through the transform found so far and
returns an updated :class:`~.transform.DemTransform` plus a dict of what it found
(numbers only, JSON-ready). Steps are chained by :class:`~.pipeline.CoregPipeline`.
"""

from ..progress import as_progress


class CoregStep:
    """One co-registration step; subclasses implement :meth:`fit_step`."""

    #: short machine name used in reports and method strings
    name = "step"

    def fit_step(self, sample, transform, progress):  # pragma: no cover - abstract
        raise NotImplementedError

    def fit(self, sample, transform, progress=None):
        """Return (new transform, info dict) for ``sample`` (:class:`~.sample.FitSample`)."""
        return self.fit_step(sample, transform, as_progress(progress))

    def parameters(self):
        """The step's settings as a dict (for reports)."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.parameters().items())
        return f"{type(self).__name__}({args})"
