"""Fonts for the snapshots: Latin first, then a CJK font for 爆单 in titles and descriptions.

Matplotlib falls back glyph by glyph along `font.family`; the CJK fonts come from Debian's
packages (`scripts/install-tools.sh` installs fonts-wqy-microhei). A machine without them
draws boxes for CJK characters and says so once, rather than failing.
"""

from __future__ import annotations

import warnings

LATIN = "DejaVu Sans"
CJK = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans CJK JP", "Droid Sans Fallback")


def font_families(installed: set[str]) -> list[str]:
    """The fallback list, only with fonts present (a missing one makes matplotlib warn per glyph)."""
    cjk = [name for name in CJK if name in installed]
    if not cjk:
        warnings.warn(
            "no CJK font installed (fonts-wqy-microhei): CJK characters draw as boxes", RuntimeWarning, stacklevel=2
        )
    return [LATIN, *cjk]


CJK_FILES = ("wqy-microhei", "NotoSansCJK", "DroidSansFallback")


def installed_families() -> set[str]:
    from matplotlib import font_manager

    names = {entry.name for entry in font_manager.fontManager.ttflist}
    if not names.intersection(CJK):
        # matplotlib's font cache predates a font installed since: add the CJK files directly
        for path in font_manager.findSystemFonts():
            if any(stem in path for stem in CJK_FILES):
                font_manager.fontManager.addfont(path)
        names = {entry.name for entry in font_manager.fontManager.ttflist}
    return names
