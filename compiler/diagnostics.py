"""Model errors: each names file:line, says what is wrong and how to fix it.

A compile collects every error of a run before stopping, so a user fixes a
model in one pass rather than one error per run.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

from compiler.source import SourceLoc


@dataclass(frozen=True, order=True)
class Diagnostic:
    loc: SourceLoc
    code: str
    message: str
    hint: str = ""

    def render(self) -> str:
        text = f"{self.loc}: error[{self.code}]: {self.message}"
        if self.hint:
            text += f"\n    fix: {self.hint}"
        return text

    def as_json(self) -> dict[str, object]:
        return {
            "file": self.loc.file,
            "line": self.loc.line,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }


class CompileError(Exception):
    """Raised once, at the end of a compile, carrying every diagnostic."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = tuple(sorted(set(diagnostics)))
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.diagnostics)
        body = "\n".join(d.render() for d in self.diagnostics)
        return f"{body}\n{count} error{'s' if count != 1 else ''}; nothing was written."


@dataclass
class Diagnostics:
    """The collector passes report into."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, loc: SourceLoc, code: str, message: str, hint: str = "") -> None:
        self.items.append(Diagnostic(loc, code, message, hint))

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise CompileError(self.items)


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A short suggestion sentence, or a listing of the valid names."""
    options = sorted(set(choices))
    close = difflib.get_close_matches(str(name), options, n=1, cutoff=0.6)
    if close:
        return f'did you mean "{close[0]}"?'
    if not options:
        return "there are none to choose from."
    shown = ", ".join(options[:12]) + (", ..." if len(options) > 12 else "")
    return f"choose one of: {shown}."
