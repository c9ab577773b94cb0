"""WCAG contrast, checked against the figures WCAG's own examples give."""

import pytest

from quiz.format.colour import INK, WHITE, contrast, text_on


def test_black_on_white_is_21_to_1():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#ffffff", "#ffffff") == pytest.approx(1.0)


def test_contrast_is_symmetric():
    assert contrast("#c2567a", "#ffffff") == pytest.approx(contrast("#ffffff", "#c2567a"))


@pytest.mark.parametrize(
    ("accent", "ink"), [("#2F6FEB", WHITE), ("#c2567a", INK), ("#FFD400", INK), ("#1d1d1f", WHITE)]
)
def test_button_text_takes_the_more_readable_ink(accent, ink):
    assert text_on(accent) == ink
    assert contrast(text_on(accent), accent) >= 4.5


def test_every_grey_gets_at_least_aa_contrast():
    for level in range(256):
        grey = f"#{level:02x}{level:02x}{level:02x}"
        assert contrast(text_on(grey), grey) >= 4.5
