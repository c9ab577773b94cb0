"""Colour contrast as WCAG 2 defines it, so text on the merchant's accent colour stays readable."""

from __future__ import annotations

WHITE = "#ffffff"
INK = "#000000"  # with white, one of the two always reaches 4.58:1 on any colour


def relative_luminance(colour: str) -> float:
    """Of a ``#rrggbb`` colour, per WCAG 2's definition."""
    channels = [int(colour[index : index + 2], 16) / 255 for index in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    red, green, blue = linear
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: str, second: str) -> float:
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


AA = 4.5


def text_on(background: str) -> str:
    """White where it reaches WCAG AA on ``background``, else whichever of white and black reads better."""
    white = contrast(WHITE, background)
    return WHITE if white >= AA or white >= contrast(INK, background) else INK
