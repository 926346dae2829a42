"""Time-series model inputs: dated rasters (or dated bands of a stack) put in the order a model's time axis says.

A time-series model (metadata ``time``: number of dates, order, spacing in days; see
:class:`~.model_metadata.TimeAxis`) takes the model's bands for each of its dates. The dates
of the given rasters' bands are read the one way Serac reads acquisition dates
(:func:`serac.core.sar.stack.describe_bands`: band description, tags, or the file name of a
single-band raster), grouped by date, sorted oldest first and checked against the model
(count, spacing). The bands then stack date after date on the first raster's grid.
"""

from ..errors import InputError


def dated_sources(metadata, paths):
    """``([InputSource, ...] date after date, [datetime64[D] dates])`` for a time-series model.

    Raises :class:`InputError` for a band without a date or a date without the model's band
    count, :class:`ModelError` (via :meth:`TimeAxis.check`) for the wrong number or spacing of dates.
    """
    from ..sar.stack import describe_bands
    from .inference import InputSource

    bands = describe_bands(paths)
    undated = [b for b in bands if b.date is None]
    if undated:
        b = undated[0]
        raise InputError(f"No acquisition date found for band {b.band} of '{b.path}' "
                         f"({len(undated)} undated band(s)).",
                         "put the date in the band descriptions or file names (YYYY-MM-DD or YYYYMMDD), or in a "
                         "DATE tag.")
    dates = sorted({b.date for b in bands})
    groups = [[b for b in bands if b.date == d] for d in dates]
    per_date = metadata.n_bands
    wrong = [(d, len(g)) for d, g in zip(dates, groups) if len(g) != per_date]
    if wrong:
        raise InputError(f"Model '{metadata.name}' takes {per_date} band(s) ({', '.join(metadata.band_names)}) per "
                         f"date; {wrong[0][0]} has {wrong[0][1]}.",
                         "give the same bands for every date, in the model's order.")
    metadata.time.check(dates, metadata.name)
    return [InputSource(b.path, [b.band]) for g in groups for b in g], dates


__all__ = ["dated_sources"]
