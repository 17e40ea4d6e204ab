"""`grade spec NAME`: the exercise's spec.md rendered in the terminal."""

from __future__ import annotations

import re

from rich.markdown import Markdown

from grader import progress
from grader.catalog import UsageError, load_exercise
from grader.commands._common import console
from grader.i18n import localized

NAME = "spec"
HELP = "show an exercise's spec (rich Markdown; LaTeX math shown as plain text)"

SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε",
    "zeta": "ζ", "eta": "η", "theta": "θ", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν",
    "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ", "varphi": "φ",
    "chi": "χ", "psi": "ψ", "omega": "ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ",
    "Lambda": "Λ", "Pi": "Π", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
    "sum": "Σ", "prod": "Π", "int": "∫", "infty": "∞", "partial": "∂", "nabla": "∇",
    "cdot": "·", "times": "×", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "neq": "≠",
    "ne": "≠", "approx": "≈", "sim": "~", "propto": "∝", "in": "∈", "notin": "∉",
    "to": "→", "rightarrow": "→", "leftarrow": "←", "mapsto": "↦", "Rightarrow": "⇒",
    "top": "ᵀ", "pm": "±", "mid": "|", "ldots": "…", "cdots": "…", "dots": "…",
    "langle": "⟨", "rangle": "⟩", "lVert": "‖", "rVert": "‖", "|": "‖", "forall": "∀",
    "exists": "∃", "cup": "∪", "cap": "∩", "subset": "⊂", "odot": "⊙", "otimes": "⊗",
    "log": "log", "exp": "exp", "max": "max", "min": "min", "arg": "arg", "sin": "sin",
    "cos": "cos", "lim": "lim", "det": "det", "{": "{", "}": "}", "_": "_", "%": "%",
    ",": " ", ";": " ", ":": " ", "!": "", "quad": "  ", "qquad": "    ", " ": " ",
    "left": "", "right": "", "big": "", "Big": "", "bigg": "", "Bigg": "",
    "displaystyle": "", "limits": "", "ell": "ℓ", "circ": "∘", "star": "*",
    "oplus": "⊕", "perp": "⊥", "emptyset": "∅", "setminus": "∖", "cdotp": "·",
}
WRAPPERS = ("mathrm", "mathbf", "mathit", "mathcal", "mathbb", "text", "textbf", "operatorname",
            "boldsymbol", "bm", "hat", "tilde", "bar", "vec", "mathsf")


def _group(text: str, i: int) -> tuple[str, int]:
    """The argument starting at text[i]: a {braced group} or a single character."""
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text):
        return "", i
    if text[i] != "{":
        if text[i] == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", text[i:])
            return m.group(0), i + len(m.group(0))
        return text[i], i + 1
    depth = 0
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1:j], j + 1
    return text[i + 1:], len(text)


def _atomic(text: str) -> bool:
    return bool(re.fullmatch(r"[\w.′ᵀ]+", text))


def latex_to_text(src: str) -> str:
    """A readable plain-text form of a LaTeX formula: \\frac{a}{b} -> a/b, \\tau -> τ, ..."""
    out = []
    i = 0
    while i < len(src):
        ch = src[i]
        if ch == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", src[i:])
            name = m.group(1)
            i += len(m.group(0))
            if name in ("frac", "dfrac", "tfrac"):
                num, i = _group(src, i)
                den, i = _group(src, i)
                num, den = latex_to_text(num), latex_to_text(den)
                num = num if _atomic(num) else f"({num})"
                den = den if _atomic(den) else f"({den})"
                out.append(f"{num}/{den}")
            elif name == "sqrt":
                arg, i = _group(src, i)
                arg = latex_to_text(arg)
                out.append(f"√{arg}" if _atomic(arg) else f"√({arg})")
            elif name in WRAPPERS:
                arg, i = _group(src, i)
                out.append(latex_to_text(arg))
            elif name in SYMBOLS:
                word = SYMBOLS[name]
                out.append(word)
                # keep a space after word-like operators: \log x, \exp(...)
                if word.isalpha() and i < len(src) and src[i] == " ":
                    out.append(" ")
            else:
                out.append(name)
            continue
        if ch in "^_":
            arg, i = _group(src, i + 1)
            arg = latex_to_text(arg)
            if ch == "^" and arg == "ᵀ":
                out.append("ᵀ")
            else:
                out.append(ch + (arg if len(arg) <= 1 or _atomic(arg) else f"({arg})"))
            continue
        if ch in "{}":
            i += 1
            continue
        out.append(ch)
        i += 1
    return re.sub(r"[ \t]+", " ", "".join(out)).strip()


_FENCE = re.compile(r"^(```|~~~)")


def readable_markdown(text: str) -> str:
    """Replace $$...$$ and $...$ math with plain text, outside code blocks and code spans."""
    lines = text.splitlines()
    out, in_fence, display = [], False, None
    for line in lines:
        if _FENCE.match(line.lstrip()):
            in_fence = not in_fence
            out.append(line)
            continue
        if in_fence:
            out.append(line)
            continue
        if display is not None:
            if "$$" in line:
                before, _, after = line.partition("$$")
                display.append(before)
                out.append("    " + latex_to_text(" ".join(display)))
                display = None
                if after.strip():
                    out.append(_inline(after))
            else:
                display.append(line)
            continue
        stripped = line.strip()
        if stripped.startswith("$$"):
            body = stripped[2:]
            if "$$" in body:
                out.append("")
                out.append("    " + latex_to_text(body.partition("$$")[0]))
                out.append("")
            else:
                out.append("")
                display = [body]
            continue
        out.append(_inline(line))
    if display is not None:  # unterminated: show what there is
        out.append("    " + latex_to_text(" ".join(display)))
    return "\n".join(protect_table_pipes(out)) + "\n"


_DELIMITER_ROW = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")


def protect_table_pipes(lines: list[str]) -> list[str]:
    """Escape each `|` inside a code span of a table row as `\\|`.

    GitHub-flavoured Markdown splits table cells at every unescaped `|`, code spans
    included, so `log p(k|q)` in a cell would end the cell at `log p(k`. An escaped
    pipe is a literal `|`, also inside code, and is shown without its backslash.
    """
    out, in_fence, in_table = [], False, False
    for k, line in enumerate(lines):
        if _FENCE.match(line.lstrip()):
            in_fence = not in_fence
            in_table = False
        elif in_fence or not line.strip():
            in_table = False
        elif not in_table and "|" in line and k + 1 < len(lines) \
                and "|" in lines[k + 1] and _DELIMITER_ROW.match(lines[k + 1]):
            in_table = True
        out.append(_escape_code_pipes(line) if in_table and not in_fence else line)
    return out


def _escape_code_pipes(row: str) -> str:
    out, i = [], 0
    while i < len(row):
        ch = row[i]
        if ch == "\\":  # an escape outside code: keep it and the character it escapes
            out.append(row[i:i + 2])
            i += 2
            continue
        if ch != "`":
            out.append(ch)
            i += 1
            continue
        run = re.match(r"`+", row[i:]).group(0)
        close = re.search(rf"(?<!`){run}(?!`)", row[i + len(run):])
        if close is None:  # an unmatched backtick run is literal text
            out.append(run)
            i += len(run)
            continue
        body = row[i + len(run):i + len(run) + close.start()]
        out.append(run + re.sub(r"(?<!\\)\|", r"\\|", body) + run)
        i += len(run) + close.end()
    return "".join(out)


# ----------------------------------------------------------------------------- the mock's view

# Headings whose section an interviewer keeps for after the exercise: follow-up
# questions, their answers, pointers to solutions. Matched on the heading's text, in
# English and in the Chinese edition's words (spec.zh.md: 追问, 面试官, 参考答案).
HELD_BACK_HEADING = re.compile(
    r"follow[\s-]*ups?\b|\binterviewers?\b|\bsolutions?\b|\banswer\s+key\b"
    r"|\b(?:good|model|sample|expected|reference|ideal)\s+answers?\b"
    r"|追问|面试官|(?:参考|标准|理想的?)答案", re.IGNORECASE)
# A paragraph line that announces answers ("What a good answer contains:", "好的回答应包含："):
# held back up to the next heading, even under a heading that is shown.
ANSWER_LEAD = re.compile(
    r"^\s*(?:\*\*|__)?[^.!?]{0,80}\b(?:good|model|sample|expected|reference|ideal)\s+"
    r"answers?\b[^.!?]{0,80}:?\s*(?:\*\*|__)?:?\s*$"
    r"|^\s*(?:\*\*|__)?[^。！？.!?]{0,40}(?:好的|理想的?|参考|标准)(?:回答|答案)[^。！？.!?]{0,40}"
    r"[:：]?\s*(?:\*\*|__)?[:：]?\s*$", re.IGNORECASE)
SOLUTION_POINTER = re.compile(r"\bsolutions/\w")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")


def headings(lines: list[str]) -> dict[int, tuple[int, str]]:
    """{line index: (level, text)} of the Markdown headings (ATX and setext), code blocks skipped.

    A setext heading is keyed by its text line; its underline belongs to it.
    """
    found, fence = {}, None
    for k, line in enumerate(lines):
        opener = _FENCE.match(line.lstrip())
        if fence is not None:
            if opener and line.lstrip().startswith(fence):
                fence = None
            continue
        if opener and len(line) - len(line.lstrip()) <= 3:
            fence = opener.group(1)
            continue
        atx = _ATX.match(line)
        if atx:
            found[k] = (len(atx.group(1)), (atx.group(2) or "").strip())
            continue
        under = _SETEXT.match(line)
        if under and k > 0 and lines[k - 1].strip() and k - 1 not in found \
                and not _FENCE.match(lines[k - 1].lstrip()) and "|" not in lines[k - 1] \
                and not lines[k - 1].startswith(("    ", "\t")) \
                and (k < 2 or not lines[k - 2].strip() or k - 2 in found):
            found[k - 1] = (1 if under.group(1)[0] == "=" else 2, lines[k - 1].strip())
    return found


def _blocks(lines: list[str]) -> list[list[int]]:
    """Line indices of each block: runs of non-blank lines, a fenced code block kept whole."""
    blocks, current, fence = [], [], None
    for k, line in enumerate(lines):
        opener = _FENCE.match(line.lstrip())
        if fence is not None:
            current.append(k)
            if opener and line.lstrip().startswith(fence):
                fence = None
            continue
        if opener:
            fence = opener.group(1)
            current.append(k)
        elif line.strip():
            current.append(k)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def split_for_mock(text: str) -> tuple[str, list[dict]]:
    """The spec as a mock interview shows it, and the parts it holds back for the report.

    Held back: every section whose heading names follow-ups, an interviewer, answers
    or solutions (with its subsections), everything from a line announcing what a
    good answer contains to the next heading, and any block pointing into
    solutions/. The title (the first heading) is always shown. Each held-back part
    is {"heading": the heading it sits under, "text": its Markdown}; together with
    the shown text they hold every non-blank line of the spec exactly once.
    """
    lines = text.splitlines()
    marks = headings(lines)
    setext_underlines = {k + 1 for k in marks
                         if k + 1 < len(lines) and _SETEXT.match(lines[k + 1])}
    title = min(marks) if marks else None
    hide = [False] * len(lines)
    owner = [""] * len(lines)
    held_level = None  # hiding a section of this level until a heading of this level or above
    lead = False  # hiding from an answer lead-in to the next heading
    current, fence = "", None
    for k, line in enumerate(lines):
        if k in marks:
            level, heading = marks[k]
            current = heading
            lead = False
            if held_level is not None and level <= held_level:
                held_level = None
            if held_level is None and k != title and HELD_BACK_HEADING.search(heading):
                held_level = level
        elif k not in setext_underlines:
            opener = _FENCE.match(line.lstrip())
            if fence is not None:
                if opener and line.lstrip().startswith(fence):
                    fence = None
            elif opener:
                fence = opener.group(1)
            elif ANSWER_LEAD.match(line) and (k == 0 or not lines[k - 1].strip()):
                lead = True
        hide[k] = held_level is not None or lead
        owner[k] = current
    # blocks (paragraphs, lists, tables, whole code blocks) that point into solutions/
    for block in _blocks(lines):
        if any(SOLUTION_POINTER.search(lines[j]) for j in block) \
                and not any(j in marks for j in block):
            for j in block:
                hide[j] = True
    shown, held = [], []
    for k, line in enumerate(lines):
        if not hide[k]:
            shown.append(line)
        elif held and held[-1]["end"] == k and held[-1]["heading"] == owner[k]:
            held[-1]["lines"].append(line)
            held[-1]["end"] = k + 1
        else:
            held.append({"heading": owner[k], "lines": [line], "end": k + 1})
    parts = [{"heading": h["heading"], "text": "\n".join(h["lines"]).strip("\n") + "\n"}
             for h in held if any(x.strip() for x in h["lines"])]
    return "\n".join(shown).rstrip("\n") + "\n", parts


def _inline(line: str) -> str:
    parts = re.split(r"(`[^`]*`)", line)
    for k, part in enumerate(parts):
        if k % 2 == 0:
            parts[k] = re.sub(r"(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$(?!\d)",
                              lambda m: "`" + latex_to_text(m.group(1)).replace("`", "'") + "`",
                              part)
    return "".join(parts)


def add_arguments(parser) -> None:
    parser.add_argument("exercise", help="exercise name (see `grade list`)")
    parser.add_argument("--raw", action="store_true", help="print spec.md as it is, unrendered")


def run(args) -> int:
    exercise = load_exercise(args.exercise)
    try:
        text = localized(exercise.spec).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read exercises/{exercise.name}/spec.md: "
                         f"{getattr(exc, 'strerror', None) or exc}") from None
    progress.snapshot_stubs([exercise])
    progress.touch(exercise.name)
    out = console()
    if args.raw:
        out.out(text, highlight=False)
        return 0
    out.print(Markdown(readable_markdown(text), code_theme="ansi_dark", hyperlinks=False))
    return 0
