"""The Chinese edition: every translation says what its English source says, and is up to date.

Each twin records the sha256 of the English text it translates (grader/i18n.py): a test fails
when the English changes and the twin was not updated and restamped.
"""

from __future__ import annotations

import ast
import io
import json
import re
import string
import tomllib
from pathlib import Path

import pytest
from rich.cells import cell_len

from conftest import ROOT, SUBMISSIONS, run_grade
from grader import i18n
from grader.catalog import EXERCISES_DIR, exercise_names

QUIZ = ROOT / "grader" / "quiz"


def _placeholders(template: str) -> set[str]:
    return {name.split("!")[0].split(":")[0] for _, name, _, _ in string.Formatter().parse(template)
            if name is not None}


def test_message_catalogues_have_the_same_ids_and_placeholders():
    english, chinese = i18n.catalogue("en"), i18n.catalogue("zh")
    assert set(chinese) == set(english), set(chinese) ^ set(english)
    for key, template in english.items():
        assert _placeholders(chinese[key]) == _placeholders(template), key


def test_language_is_chosen_by_flag_env_setting_then_locale(monkeypatch):
    monkeypatch.setattr(i18n, "_stored", lambda: None)
    assert i18n.choose("zh", environ={}) == "zh"
    assert i18n.choose(None, environ={"CONTRASTIVE_KIT_LANG": "zh"}) == "zh"
    assert i18n.choose("en", environ={"CONTRASTIVE_KIT_LANG": "zh"}) == "en"
    assert i18n.choose(None, environ={"LANG": "zh_CN.UTF-8"}) == "zh"
    assert i18n.choose(None, environ={"LC_ALL": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"}) == "en"
    assert i18n.choose(None, environ={}) == "en"
    monkeypatch.setattr(i18n, "_stored", lambda: "zh")
    assert i18n.choose(None, environ={"LANG": "en_US.UTF-8"}) == "zh"


def test_grade_lang_stores_the_setting_and_every_command_follows_it():
    assert run_grade("lang", "zh").returncode == 0
    proc = run_grade("no_such_exercise", env={"CONTRASTIVE_KIT_LANG": ""})
    assert proc.returncode == 2 and "没有名为" in proc.stderr
    assert "no_such_exercise" in run_grade("no_such_exercise", "--lang", "en").stderr
    proc = run_grade("lang", "xx")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


def test_json_keeps_english_keys_and_check_names_with_chinese_messages():
    proc = run_grade("nt_xent", "--lang", "zh", "--json", "--seed", "0", "--file",
                     SUBMISSIONS / "nt_xent" / "wrong_temperature_multiplied.py", "--only", "correctness")
    doc = json.loads(proc.stdout)
    check = next(c for c in doc["checks"] if c["name"] == "worked_example_from_spec")
    assert check["status"] == "failed" and "数值与参考实现不一致" in check["message"]
    assert {"name", "category", "status", "message"} <= set(check)


def test_chinese_report_of_a_failing_submission_fits_80_columns():
    proc = run_grade("nt_xent", "--lang", "zh", "--seed", "0", "--skip", "speed", "--file",
                     SUBMISSIONS / "nt_xent" / "wrong_temperature_multiplied.py", env={"COLUMNS": "80"})
    assert proc.returncode == 1 and "未全部通过" in proc.stdout
    widest = max(cell_len(line) for line in proc.stdout.splitlines())
    assert widest <= 80, widest


# -- translated files ------------------------------------------------------------------------
def _twins(pattern_root: Path, glob: str) -> list[Path]:
    return sorted(pattern_root.glob(glob))


def _stale(twin: Path) -> str | None:
    source = i18n.english_of(twin)
    recorded = i18n.recorded_sha256(twin)
    if recorded is None:
        return f"{twin} records no source hash (python -m grader.i18n stamp {twin})"
    if recorded != i18n.sha256_of(source):
        return f"{source} changed since {twin} was translated: update it, then restamp it"
    return None


ALL_TWINS = (_twins(EXERCISES_DIR, "*/spec.zh.md") + _twins(EXERCISES_DIR, "*/stub.zh.py")
             + _twins(QUIZ / "zh", "*.toml") + _twins(ROOT / "docs", "*.zh.md")
             + _twins(ROOT, "README.zh.md"))


@pytest.mark.parametrize("twin", ALL_TWINS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_translation_is_of_the_current_english_text(twin):
    assert _stale(twin) is None, _stale(twin)


def _headings(text: str) -> list[int]:
    body = re.sub(r"```.*?```", "", text, flags=re.S)
    return [len(m.group(1)) for m in re.finditer(r"^(#{1,6}) ", body, re.M)]


def _code_blocks(text: str) -> list[str]:
    return re.findall(r"```.*?```", text, flags=re.S)


def _inline_code(text: str) -> set[str]:
    """The code spans, whitespace removed: a span may run over a line break (CommonMark), never
    over a blank line, so a span the English wraps is one span, and not the prose between two."""
    body = re.sub(r"```.*?```", "", text, flags=re.S)
    return {"".join(span.split()) for span in re.findall(r"`((?:[^`\n]|\n(?![ \t]*\n))+)`", body)}


def test_a_code_span_wrapped_over_a_line_break_is_one_span():
    assert _inline_code("see `Ng =\n(a + b)`, then `clamp(Ng)`.\n\nA `lone\n\ntick` here") == \
        {"Ng=(a+b)", "clamp(Ng)"}


def _numbers(text: str) -> set[str]:
    body = re.sub(r"```.*?```", "", text, flags=re.S)
    return set(re.findall(r"(?<![\w.])\d+\.\d+|(?<![\w.])\d{2,}(?![\w.])", body))


SPEC_TWINS = (_twins(EXERCISES_DIR, "*/spec.zh.md") + _twins(ROOT / "docs", "*.zh.md")
              + _twins(ROOT, "README.zh.md"))


@pytest.mark.parametrize("twin", SPEC_TWINS, ids=lambda p: str(p.relative_to(ROOT)))
def test_translated_page_keeps_structure_code_formulas_and_numbers(twin):
    english = i18n.english_of(twin).read_text(encoding="utf-8")
    chinese = twin.read_text(encoding="utf-8")
    assert _headings(chinese) == _headings(english), "the same sections, in the same order"
    assert _code_blocks(chinese) == _code_blocks(english), "code blocks are not translated"
    missing = _inline_code(english) - _inline_code(chinese)
    assert not missing, f"formulas and code spans of the English text missing: {sorted(missing)[:10]}"
    lost = _numbers(english) - _numbers(chinese)
    assert not lost, f"numbers of the English text missing: {sorted(lost)[:10]}"


@pytest.mark.parametrize("twin", _twins(EXERCISES_DIR, "*/spec.zh.md"), ids=lambda p: p.parent.name)
def test_mock_interview_holds_back_the_same_sections_in_chinese(twin):
    """grade mock shows the spec without its follow-ups and their answers, in either language."""
    from grader.commands.spec import headings, split_for_mock

    def held_back(text: str) -> tuple[list[bool], int]:
        """Which headings, in order, the mock holds back; how many parts it holds back."""
        shown, held = split_for_mock(text)
        shown_headings = {title for _, title in headings(shown.splitlines()).values()}
        return [title not in shown_headings for _, title in headings(text.splitlines()).values()], len(held)

    english = i18n.english_of(twin).read_text(encoding="utf-8")
    assert held_back(twin.read_text(encoding="utf-8")) == held_back(english)


def _code_only(source: str) -> str:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


@pytest.mark.parametrize("twin", _twins(EXERCISES_DIR, "*/stub.zh.py"), ids=lambda p: p.parent.name)
def test_translated_stub_is_the_same_code(twin):
    assert _code_only(twin.read_text(encoding="utf-8")) == \
        _code_only(i18n.english_of(twin).read_text(encoding="utf-8"))


@pytest.mark.parametrize("twin", _twins(QUIZ / "zh", "*.toml"), ids=lambda p: p.name)
def test_translated_quiz_bank_has_the_same_questions_and_answers(twin):
    english = tomllib.loads(i18n.english_of(twin).read_text(encoding="utf-8"))
    chinese = tomllib.loads(twin.read_text(encoding="utf-8"))
    if twin.stem == "followups":
        for key, items in english.items():
            assert len(chinese.get(key, [])) == len(items), key
            assert all(q.get("question") and q.get("notes") for q in chinese[key]), key
        return
    assert chinese.get("topic") == english.get("topic")
    pairs = zip(english["questions"], chinese["questions"], strict=True)
    for en, zh in pairs:
        assert (zh["id"], zh["answer"], len(zh["choices"])) == (en["id"], en["answer"], len(en["choices"]))
        assert zh["question"] and zh["explanation"]


ZH_BANKS = [p for p in _twins(QUIZ / "zh", "*.toml") if p.stem != "followups"]


def _names_letter(text: str, letter: str, english: bool = False) -> bool:
    """'C. ...', 'A is wrong', 'A (N - 1) counts' in English (not the article 'A'); any lone letter in Chinese."""
    after = r"(?=\.|,| is wrong| \()" if english else r"(?![\w'-])"
    return re.search(rf"(?<![\w'-]){letter}{after}", " ".join(text.split())) is not None


def test_translated_quiz_banks_give_no_length_tell_and_say_why_each_choice_is_wrong():
    """Chinese is denser than English while formulas keep their length, so a translation can make
    the right choice the longest: the English banks' limit (tests/test_quiz_bank.py) holds for the
    Chinese ones too. Where an English explanation names a wrong letter, the Chinese one does."""
    from test_quiz_bank import MAX_LONGEST_SHARE, length_tell

    questions = [q for path in ZH_BANKS for q in tomllib.loads(path.read_text(encoding="utf-8"))["questions"]]
    share, longest = length_tell(questions)
    assert share <= MAX_LONGEST_SHARE, f"the right choice is the longest in {longest}"
    for twin in ZH_BANKS:
        english = tomllib.loads(i18n.english_of(twin).read_text(encoding="utf-8"))["questions"]
        chinese = tomllib.loads(twin.read_text(encoding="utf-8"))["questions"]
        for en, zh in zip(english, chinese):
            missing = [x for x in "ABCDEF"[:len(en["choices"])]
                       if _names_letter(en["explanation"], x, english=True) and not _names_letter(zh["explanation"], x)]
            assert not missing, f"{twin.name}: {zh['id']}: the explanation drops {missing}"


def test_every_exercise_and_quiz_bank_has_its_chinese_text():
    """The Chinese edition is complete: a new exercise or quiz bank comes with its twin."""
    missing = [f"{name}/{twin}" for name in exercise_names() for twin in ("spec.zh.md", "stub.zh.py")
               if not (EXERCISES_DIR / name / twin).is_file()]
    missing += [f"{name}/info.toml [zh]" for name in exercise_names()
                if "zh" not in tomllib.loads((EXERCISES_DIR / name / "info.toml").read_text(encoding="utf-8"))]
    missing += [f"grader/quiz/zh/{bank.name}" for bank in sorted(QUIZ.glob("*.toml"))
                if not (QUIZ / "zh" / bank.name).is_file()]
    missing += [f"docs/{page.stem}.zh.md" for page in sorted((ROOT / "docs").glob("*.md"))
                if not page.name.endswith(".zh.md") and page.name not in ("glossary.md", "commands.md")
                and not (ROOT / "docs" / f"{page.stem}.zh.md").is_file()]
    assert not missing, f"not translated: {missing}"


def _infos_with_translation() -> list[Path]:
    found = []
    for name in exercise_names():
        path = EXERCISES_DIR / name / "info.toml"
        if "zh" in tomllib.loads(path.read_text(encoding="utf-8")):
            found.append(path)
    return found


@pytest.mark.parametrize("info", _infos_with_translation(), ids=lambda p: p.parent.name)
def test_translated_info_has_every_hint_and_is_current(info):
    data = tomllib.loads(info.read_text(encoding="utf-8"))
    table = data["zh"]
    assert table.get("title") and len(table.get("hints", [])) == len(data["hints"])
    assert len(table.get("topics", [])) == len(data["topics"])
    assert table.get("source_sha256") == i18n.info_text_sha256(data), \
        f"the English title, topics or hints changed: update [zh] and run python -m grader.i18n stamp {info}"


def test_chinese_lines_wrap_between_characters_and_english_as_before(monkeypatch):
    from rich import _wrap
    from rich.console import Console

    monkeypatch.setattr(_wrap, "re_word", _wrap.re_word)   # restored after the test
    monkeypatch.setattr(i18n, "_current", i18n.DEFAULT)

    def lines(text: str, width: int = 40) -> list[str]:
        console = Console(width=width, record=True, file=io.StringIO())
        console.print(text)
        return console.export_text().splitlines()

    english = "Edit nt_xent/stub.py; every save is graded and only the per-category pass counts are shown"
    chinese = "编辑 nt_xent/stub.py；每次保存都会评测，但面试结束前只显示各类别通过的检查数。卡住了？"
    before = lines(english), lines(chinese)
    assert before[1][0].rstrip() == "编辑"   # rich alone: the run after the space moves down whole
    i18n.set_language("zh")
    assert lines(english) == before[0]
    wrapped = lines(chinese)
    assert wrapped[0].startswith("编辑 nt_xent/stub.py；每次") and cell_len(wrapped[0].rstrip()) > 34
    assert "".join(line.rstrip() for line in wrapped) == chinese   # nothing lost or added
    assert not any(line.startswith(("，", "。", "；", "？")) for line in wrapped)
    bracket = lines("一二三四五六七八九十（docs/misconceptions.md）", width=22)
    assert not any(line.rstrip().endswith("（") for line in bracket), bracket
