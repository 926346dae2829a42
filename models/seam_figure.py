"""Figure and figures for the glacier model card: tile seams before/after, uncertainty on held-out errors.

    python -m models.seam_figure      # needs ../shared/data (the Everest scene and its RGI mask)

Writes models/cards/glacier_landsat_v1_seams.png (|tiled - whole-image| probability with the former
32 px overlap and with the seamless default) and models/logs/glacier_landsat_v1_seams_uncertainty.json.
"""

import dataclasses
import json
import os

if __name__ == "__main__" and __package__ != "serac.models":
    if __package__:
        from ._entry import rerun
    else:
        from _entry import rerun
    rerun("seam_figure")

import numpy as np  # noqa: E402

from ..core.raster_io import read_raster  # noqa: E402
from ..core.segmentation import load_model, predict_array  # noqa: E402
from ..core.segmentation.inference import _prepare  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(os.path.dirname(HERE), "..", "shared", "data")


def main():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = load_model(os.path.join(HERE, "glacier_landsat_v1.onnx"), backend="onnxruntime")
    meta = model.metadata
    raw = read_raster(os.path.join(SHARED, "optical", "everest_landsat", "LE71400412000304SGS00_RGB.tif")).data
    mask = read_raster(os.path.join(SHARED, "outlines", "masks", "everest_LE71400412000304_rgi60_mask.tif")).data[0]
    m = meta.size_multiple
    x, _ = _prepare(meta, raw)
    rows, cols = -(-x.shape[1] // m) * m, -(-x.shape[2] // m) * m
    padded = np.full((x.shape[0], rows, cols), meta.nodata_fill, np.float32)
    padded[:, :x.shape[1], :x.shape[2]] = x
    whole = model.predict(padded[None])[0, 0, :x.shape[1], :x.shape[2]]
    new, unc = predict_array(model, raw, with_uncertainty=True)
    plain = predict_array(model, raw)[0]
    model.metadata = dataclasses.replace(meta, overlap=32, context_px=0)
    old = predict_array(model, raw)[0]
    b = meta.context_px
    inner = (slice(b, -b), slice(b, -b))
    d_old, d_new = np.abs(old - whole), np.abs(plain - whole)
    held = np.zeros(mask.shape, bool)
    held[:, :200] = True
    ok = held & np.isfinite(mask)
    wrong = ((new[0] >= meta.threshold) != (mask == 1)) & ok
    right = ~wrong & ok
    out = {"max_abs_diff_old_32px": round(float(d_old[inner].max()), 4),
           "class_changes_old_32px_percent": round(100 * float(np.mean((old >= 0.5) != (whole >= 0.5))), 3),
           "max_abs_diff_seamless": round(float(d_new[inner].max()), 4),
           "class_changes_seamless_percent": round(100 * float(np.mean((plain >= 0.5) != (whole >= 0.5))), 3),
           "border_excluded_px": b, "overlap_px": meta.overlap,
           "uncertainty_mean_on_held_out_errors": round(float(unc[wrong].mean()), 4),
           "uncertainty_mean_on_held_out_correct": round(float(unc[right].mean()), 4),
           "held_out_error_fraction_in_top_decile_of_uncertainty": round(
               float(wrong[(unc >= np.quantile(unc[ok], 0.9)) & ok].mean()), 4),
           "held_out_error_fraction": round(float(wrong[ok].mean()), 4)}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    for ax, img, title in ((axes[0], d_old, f"former 32 px overlap: max {out['max_abs_diff_old_32px']:.2f}"),
                           (axes[1], d_new, f"{meta.overlap} px overlap, {b} px margins discarded:\n"
                                            f"max {out['max_abs_diff_seamless']:.3f}")):
        im = ax.imshow(img, vmin=0, vmax=0.2, cmap="magma")
        ax.set_title("|tiled - whole image|\n" + title, fontsize=9)
        ax.axis("off")
    fig.colorbar(im, ax=axes[:2], shrink=0.8, label="probability difference")
    im = axes[2].imshow(unc, vmin=0, vmax=0.25, cmap="YlOrRd")
    axes[2].contour(mask == 1, levels=[0.5], colors="c", linewidths=0.6)
    axes[2].axvline(200, color="k", lw=0.8)
    axes[2].set_title("uncertainty (TTA spread)\ncyan: RGI; left of the line: held out", fontsize=9)
    axes[2].axis("off")
    fig.colorbar(im, ax=axes[2], shrink=0.8)
    fig.savefig(os.path.join(HERE, "cards", "glacier_landsat_v1_seams.png"), dpi=80, bbox_inches="tight")
    with open(os.path.join(HERE, "logs", "glacier_landsat_v1_seams_uncertainty.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
