"""Message catalogs: one YAML file per language, the same keys and placeholders everywhere."""

from __future__ import annotations

import string

import pytest
import yaml

from bot import texts
from bot.ui_texts import ui

ENGLISH = texts.catalog("en")
MAINTAINER_ONLY = {k for k in ENGLISH if k.startswith("admin_")}


def placeholders(value: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(value) if name}


@pytest.mark.parametrize("lang", [lang for lang in texts.languages() if lang != "en"])
def test_every_catalog_has_the_same_keys_and_placeholders(lang: str) -> None:
    raw = yaml.safe_load((texts.LOCALES / f"{lang}.yaml").read_text("utf-8"))
    assert isinstance(raw, dict) and all(isinstance(v, str) for v in raw.values())
    catalog = texts.catalog(lang)
    assert set(catalog) == set(ENGLISH) - MAINTAINER_ONLY, set(catalog) ^ set(ENGLISH)
    for key, value in catalog.items():
        assert placeholders(value) == placeholders(ENGLISH[key]), (lang, key)
        assert "<" not in value, (lang, key)
    if lang not in texts.SUPPORTED:
        header = (texts.LOCALES / f"{lang}.yaml").read_text("utf-8").splitlines()[0]
        assert header.startswith("#") and "native speaker" in header


def test_the_interface_speaks_every_catalog_language_and_answers_stay_vetted() -> None:
    from bot.ui_texts import ui_language

    assert ui_language(None, "pl-PL") == "pl" and ui("welcome", "pl") != ENGLISH["welcome"]
    assert ui_language("es", "pl") == "es" and ui_language("xx") == "en"


def test_a_missing_key_falls_back_to_english() -> None:
    assert texts.text("admin_reloaded", "es") == ENGLISH["admin_reloaded"]
    assert ui("welcome", "xx") == ENGLISH["welcome"]
    assert texts.catalog("../en") == {}
