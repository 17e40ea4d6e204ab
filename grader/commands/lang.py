"""`grade lang [LANG]`: show or store the language the kit speaks (en, zh)."""

from __future__ import annotations

from grader import progress
from grader.catalog import UsageError
from grader.commands._common import console
from grader.i18n import LANGUAGES, language, normalize, set_language, source, t

NAME = "lang"
HELP = "show the language the kit speaks, or store one (en, zh) for every later command"


def add_arguments(parser) -> None:
    parser.add_argument("language", nargs="?", help=f"one of: {', '.join(LANGUAGES)}")


def run(args) -> int:
    out = console()
    if args.language is None:
        out.print(t("lang_current", name=LANGUAGES[language()], lang=language(), source=t(_source()),
                    known=", ".join(f"{code} ({name})" for code, name in LANGUAGES.items())))
        return 0
    lang = normalize(args.language)
    if lang is None:
        raise UsageError(t("unknown_language", lang=args.language, known=", ".join(LANGUAGES)))
    progress.write_setting("lang", lang)
    set_language(lang)
    out.print(t("lang_set", name=LANGUAGES[lang], lang=lang))
    return 0


def _source() -> str:
    return f"lang_source_{source()}"
