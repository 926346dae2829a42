"""Large benchmark scenes built from real ones, shared by the bench_*.py scripts."""


def mirror_mosaic(path, data, grid, dtype, block=2048):
    """Write ``data`` (bands, rows, cols) tiled with mirrored copies over ``grid`` (any size) to ``path``."""
    import numpy as np

    from serac.core import raster_io as rio

    h, w = data.shape[1:]

    def mirror(idx, n):
        idx = idx % (2 * n)
        return np.where(idx < n, idx, 2 * n - 1 - idx)

    with rio.RasterWriter(path, grid, count=data.shape[0], dtype=dtype, nodata=None, cog=False) as writer:
        for inner, _ in rio.iter_blocks(grid.shape, block):
            rows = mirror(np.arange(int(inner.row_off), int(inner.row_off + inner.height)), h)
            cols = mirror(np.arange(int(inner.col_off), int(inner.col_off + inner.width)), w)
            writer.write(data[:, rows][:, :, cols], inner)
    return path
