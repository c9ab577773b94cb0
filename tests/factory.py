"""Small quizzes for tests, built from a few keyword arguments."""

from __future__ import annotations

import json
from typing import Any

from quiz.authoring.loader import parse_quiz
from quiz.format.schema import Quiz


def quiz_document(**overrides: Any) -> dict[str, Any]:
    """A valid two-question skincare quiz as a JSON-ready dict; keyword arguments replace fields."""
    document: dict[str, Any] = {
        "version": 1,
        "id": "serum",
        "title": "Serum finder",
        "questions": [
            {
                "id": "skin",
                "type": "single",
                "title": "Your skin?",
                "options": [
                    {"id": "dry", "label": "Dry", "reason": "dry skin", "points": {"tags": {"hydrating": 3}}},
                    {"id": "oily", "label": "Oily", "reason": "oily skin", "points": {"tags": {"light": 3}}},
                ],
            },
            {
                "id": "fragrance",
                "type": "yes_no",
                "title": "Fragrance-free only?",
                "yes": {"require": {"tags_all": ["fragrance-free"]}, "reason": "fragrance-free"},
            },
        ],
        "products": [
            {"id": "aqua", "title": "Aqua serum", "url": "/aqua", "price": 30, "tags": ["hydrating", "fragrance-free"]},
            {"id": "rose", "title": "Rose serum", "url": "/rose", "price": 25, "tags": ["hydrating"], "priority": 1},
            {"id": "matte", "title": "Matte gel", "url": "/matte", "price": 20, "tags": ["light", "fragrance-free"]},
        ],
        "scoring": {"fallback": ["aqua"]},
    }
    document.update(overrides)
    return document


def make_quiz(**overrides: Any) -> Quiz:
    """A validated quiz; fails the test with the problems when the document is invalid."""
    loaded = parse_quiz(json.dumps(quiz_document(**overrides), indent=2))
    assert loaded.quiz is not None, [problem.render() for problem in loaded.problems]
    return loaded.quiz


def problems_of(document: dict[str, Any]) -> list[str]:
    """``path: message`` for each problem the document has."""
    loaded = parse_quiz(json.dumps(document, indent=2))
    return [f"{problem.path}: {problem.message}" for problem in loaded.problems]
