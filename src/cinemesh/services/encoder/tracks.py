"""Languages of subtitle and audio tracks: the BCP 47 tag a track is given, normalised, and
the name a player's menu shows for it."""

from __future__ import annotations

import re
from typing import Any

LANGUAGE_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$"
# the names of the languages a catalog is most often subtitled in; others show their tag
LANGUAGE_NAMES = {
    "ar": "العربية",
    "cs": "Čeština",
    "da": "Dansk",
    "de": "Deutsch",
    "el": "Ελληνικά",
    "en": "English",
    "es": "Español",
    "fi": "Suomi",
    "fr": "Français",
    "he": "עברית",
    "hi": "हिन्दी",
    "hu": "Magyar",
    "id": "Bahasa Indonesia",
    "it": "Italiano",
    "ja": "日本語",
    "ko": "한국어",
    "nb": "Norsk bokmål",
    "nl": "Nederlands",
    "no": "Norsk",
    "pl": "Polski",
    "pt": "Português",
    "pt-BR": "Português (Brasil)",
    "ro": "Română",
    "ru": "Русский",
    "sv": "Svenska",
    "th": "ไทย",
    "tr": "Türkçe",
    "uk": "Українська",
    "vi": "Tiếng Việt",
    "zh": "中文",
}
# the three-letter codes containers tag audio streams with, for the languages named above
ISO_639_2 = {
    "ara": "ar", "ces": "cs", "cze": "cs", "dan": "da", "deu": "de", "ger": "de", "ell": "el",
    "gre": "el", "eng": "en", "spa": "es", "fin": "fi", "fra": "fr", "fre": "fr", "heb": "he",
    "hin": "hi", "hun": "hu", "ind": "id", "ita": "it", "jpn": "ja", "kor": "ko", "nob": "nb",
    "nld": "nl", "dut": "nl", "nor": "no", "pol": "pl", "por": "pt", "ron": "ro", "rum": "ro",
    "rus": "ru", "swe": "sv", "tha": "th", "tur": "tr", "ukr": "uk", "vie": "vi", "zho": "zh",
    "chi": "zh",
}  # fmt: skip
KIND_SUFFIX = {"subtitles": "", "captions": " (CC)", "forced": " (forced)"}


def normal_language(tag: str) -> str:
    """`EN-us` → `en-US`: the language lower case, a region upper case, a script titled."""
    first, *rest = tag.split("-")
    parts = [first.lower()]
    for part in rest:
        if len(part) == 2 or part.isdigit():
            parts.append(part.upper())
        elif len(part) == 4:
            parts.append(part.title())
        else:
            parts.append(part.lower())
    return "-".join(parts)


def language_name(tag: str) -> str:
    return LANGUAGE_NAMES.get(tag) or LANGUAGE_NAMES.get(tag.split("-")[0]) or tag


def track_name(language: str, kind: str) -> str:
    """What a player's menu shows, e.g. `English (CC)` for English captions."""
    return language_name(language) + KIND_SUFFIX.get(kind, "")


def stream_language(stream: Any) -> str:
    """A container stream's language tag (PyAV metadata) as BCP 47 where a two-letter code
    exists (`eng` → `en`); `und` when it has none or an unusable one."""
    tag = str((stream.metadata or {}).get("language") or "und").strip().lower()
    return ISO_639_2.get(tag, tag) if re.fullmatch(r"[a-z]{2,3}", tag) else "und"
