"""Copy the demo maps into docs/images for the README, as JPEGs at most 1000 px on their longer side.

Usage (after ``make demo``): ``.venv/bin/python scripts/docs_images.py [demo_output]``
Dialog screenshots come from ``scripts/screenshots.py docs/images``.
"""

import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    maps = Path(argv[0] if argv else ROOT / "demo_output") / "maps"
    out = ROOT / "docs" / "images"
    out.mkdir(parents=True, exist_ok=True)
    for png in sorted(maps.glob("*.png")):
        image = Image.open(png).convert("RGB")
        image.thumbnail((1000, 1000))
        target = out / f"map_{png.stem}.jpg"
        image.save(target, "JPEG", quality=85, optimize=True)
        print(f"{target.relative_to(ROOT)} ({target.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
