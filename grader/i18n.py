"""The language a learner reads: choosing it, and the message catalogues.

Messages are keyed by id in TOML catalogues (grader/locale/<lang>.toml, one table
`messages`) with named placeholders in str.format style; English is the catalogue
every other one is checked against (tests/test_i18n.py: same ids, same placeholders).
TOML rather than gettext: no build step, a file a translator edits as it is, and the
placeholders are named in both languages. Formulas, code, identifiers, numbers and
check names are never translated.

The language is chosen once per process: `--lang`, else CONTRASTIVE_KIT_LANG, else the
setting stored by `grade lang`, else the locale (LC_ALL, LC_MESSAGES, LANG starting with
zh), else English.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from functools import lru_cache
from pathlib import Path

LANGUAGES = {"en": "English", "zh": "简体中文"}
DEFAULT = "en"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
ENV = "CONTRASTIVE_KIT_LANG"

_current = DEFAULT


def normalize(lang: str | None) -> str | None:
    """'zh', 'zh_CN.UTF-8', 'zh-Hans' -> 'zh'; 'en_US' -> 'en'; anything else -> None."""
    if not lang:
        return None
    base = lang.strip().lower().replace("-", "_").split(".")[0].split("_")[0]
    return base if base in LANGUAGES else None


def from_locale(environ=None) -> str | None:
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value:
            return "zh" if value.lower().startswith("zh") else None
    return None


_source = "default"   # where the current language came from: cli, env, setting, locale, default


def choose(cli_lang: str | None = None, environ=None) -> str:
    """The language, by the first of these that names one; remembers which did (source())."""
    global _source
    env = os.environ if environ is None else environ
    for source, candidate in (("cli", cli_lang), ("env", env.get(ENV)), ("setting", _stored())):
        lang = normalize(candidate)
        if lang:
            _source = source
            return lang
    lang = from_locale(env)
    _source = "locale" if lang else "default"
    return lang or DEFAULT


def source() -> str:
    return _source


def _stored() -> str | None:
    try:
        from grader import progress

        return progress.read_setting("lang")
    except Exception:   # an unreadable state file is reported by the commands that use it
        return None


def set_language(lang: str) -> None:
    global _current
    _current = normalize(lang) or DEFAULT
    if _current == "zh":
        _break_lines_between_cjk_characters()


# rich wraps lines only at spaces: a Chinese sentence has none, so the run after a space that
# does not fit moves whole to the next line, leaving a half-empty one. Letting each CJK character
# be a word of its own (closing punctuation kept with the character before it, opening with the
# one after) wraps Chinese as Chinese is set. Text without CJK characters splits as before.
_CJK = "\u2e80-\u9fff\u3000-\u303f\uf900-\ufaff\uff00-\uffef\u201c\u201d"
_CLOSING = "，。；：、）」』！？”"
_OPENING = "（「『“"
_WORD = re.compile(rf"\s*[{_OPENING}]*(?:[{_CJK}]|[^\s{_CJK}]+)[{_CLOSING}]*\s*")


def _break_lines_between_cjk_characters() -> None:
    try:
        from rich import _wrap
    except ImportError:   # a rich without this module: lines still wrap, at spaces only
        return
    if hasattr(_wrap, "re_word"):
        _wrap.re_word = _WORD


def language() -> str:
    return _current


@lru_cache(maxsize=None)
def catalogue(lang: str) -> dict[str, str]:
    path = LOCALE_DIR / f"{lang}.toml"
    with open(path, "rb") as f:
        return dict(tomllib.load(f).get("messages", {}))


def t(key: str, **values) -> str:
    """The message `key` in the current language (English where a translation is missing)."""
    template = catalogue(_current).get(key) if _current != DEFAULT else None
    if template is None:
        template = catalogue(DEFAULT)[key]
    return template.format(**values)


def localized_in(path: Path, lang: str | None = None) -> Path:
    """quiz/losses.toml -> quiz/zh/losses.toml when that file exists in the language."""
    lang = lang or _current
    if lang == DEFAULT:
        return path
    twin = path.parent / lang / path.name
    return twin if twin.is_file() else path


def localized(path: Path, lang: str | None = None) -> Path:
    """spec.md -> spec.zh.md (stub.py -> stub.zh.py) when that file exists in the language."""
    lang = lang or _current
    if lang == DEFAULT:
        return path
    twin = path.with_name(f"{path.stem}.{lang}{path.suffix}")
    return twin if twin.is_file() else path


# -- translations of files: each records the hash of the English text it translates ----------
# A spec.zh.md starts with `<!-- translated from spec.md sha256:HEX -->`, a stub.zh.py with
# `# translated from stub.py sha256:HEX`, a TOML twin (quiz/zh/*.toml) with
# `source_sha256 = "HEX"`, info.toml's [zh] table with `source_sha256` over the English title,
# topics and hints. When the English text changes, tests/test_i18n.py fails until the twin is
# updated and restamped (`python -m grader.i18n stamp FILE...`).
STAMP = re.compile(r"translated from (?P<source>\S+) sha256:(?P<hash>[0-9a-f]{64})")


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def info_text_sha256(info: dict) -> str:
    """The hash of info.toml's English title, topics and hints (what its [zh] table translates)."""
    english = {key: info.get(key) for key in ("title", "topics", "hints")}
    return hashlib.sha256(json.dumps(english, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def english_of(twin: Path) -> Path:
    """spec.zh.md -> spec.md; quiz/zh/losses.toml -> quiz/losses.toml."""
    if twin.parent.name in LANGUAGES:
        return twin.parent.parent / twin.name
    stem, _, lang = twin.stem.rpartition(".")
    return twin.with_name(f"{stem}{twin.suffix}")


def strip_stamp(text: str) -> str:
    """A twin's text without its stamp line (what a learner's copy of stub.zh.py starts with)."""
    first, _, rest = text.partition("\n")
    return rest if STAMP.search(first) else text


def recorded_sha256(twin: Path) -> str | None:
    text = twin.read_text(encoding="utf-8")
    if twin.suffix == ".toml":
        found = re.search(r'^source_sha256\s*=\s*"([0-9a-f]{64})"', text, re.M)
        return found.group(1) if found else None
    found = STAMP.search(text.split("\n", 1)[0])
    return found.group("hash") if found else None


def stamp(twin: Path) -> None:
    """Record in twin the hash of the English file it translates (after updating it)."""
    source = english_of(twin)
    digest = sha256_of(source)
    text = twin.read_text(encoding="utf-8")
    if twin.suffix == ".toml":
        line = f'source_sha256 = "{digest}"'
        if re.search(r"^source_sha256\s*=", text, re.M):
            text = re.sub(r"^source_sha256\s*=.*$", line, text, count=1, flags=re.M)
        else:
            text = line + "\n" + text
    else:
        mark = (f"<!-- translated from {source.name} sha256:{digest} -->" if twin.suffix == ".md"
                else f"# translated from {source.name} sha256:{digest}")
        first, _, rest = text.partition("\n")
        text = (mark + "\n" + rest) if STAMP.search(first) else (mark + "\n" + text)
    twin.write_text(text, encoding="utf-8")


def stamp_info(info_toml: Path, lang: str = "zh") -> None:
    """Set source_sha256 in info.toml's [lang] table to the hash of its English text."""
    text = info_toml.read_text(encoding="utf-8")
    with open(info_toml, "rb") as f:
        digest = info_text_sha256(tomllib.load(f))
    header = f"[{lang}]"
    if header not in text:
        raise SystemExit(f"{info_toml} has no [{lang}] table")
    head, _, table = text.partition(header + "\n")
    line = f'source_sha256 = "{digest}"'
    if re.search(r"^source_sha256\s*=", table, re.M):
        table = re.sub(r"^source_sha256\s*=.*$", line, table, count=1, flags=re.M)
    else:
        table = line + "\n" + table
    info_toml.write_text(head + header + "\n" + table, encoding="utf-8")


def _main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "stamp":
        print("usage: python -m grader.i18n stamp FILE...  (spec.zh.md, stub.zh.py, quiz/zh/*.toml, "
              "info.toml)")
        return 2
    for name in argv[1:]:
        path = Path(name)
        (stamp_info if path.name == "info.toml" else stamp)(path)
        print(f"stamped {path}")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(_main(sys.argv[1:]))
