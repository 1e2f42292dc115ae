"""Every example in docs/model-language.md compiles, or fails with the error it claims."""

from __future__ import annotations

import re

import pytest

from compiler.compile import compile_project
from compiler.diagnostics import CompileError
from tests.conftest import REPO, MakeProject

REFERENCE = REPO / "docs" / "model-language.md"
_BLOCK = re.compile(r"^```python( bad)?\n(.*?)^```", re.S | re.M)


def _examples() -> list[tuple[str, bool, str]]:
    text = REFERENCE.read_text(encoding="utf-8")
    found = []
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        found.append((f"line{line}", bool(match.group(1)), match.group(2)))
    return found


EXAMPLES = _examples()


def test_the_reference_has_examples_of_both_kinds() -> None:
    assert sum(not bad for _, bad, _ in EXAMPLES) >= 10
    assert sum(bad for _, bad, _ in EXAMPLES) >= 3


@pytest.mark.parametrize(
    ("source", "bad"), [(code, bad) for _, bad, code in EXAMPLES], ids=[i for i, _, _ in EXAMPLES]
)
def test_reference_example(make_project: MakeProject, source: str, bad: bool) -> None:
    root = make_project({"domain/example.model.py": source})
    if not bad:
        compile_project(root)
        return
    expected = re.match(r"# error\[([a-z-]+)\]", source)
    assert expected, "a bad example starts with `# error[code]`"
    with pytest.raises(CompileError) as caught:
        compile_project(root)
    assert [d.code for d in caught.value.diagnostics] == [expected.group(1)]


def test_readme_links_the_docs() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for doc in ("docs/getting-started.md", "docs/model-language.md"):
        assert doc in readme and (REPO / doc).is_file()
