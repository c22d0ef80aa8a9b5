"""The README's Python quick start runs unchanged."""

import re

from conftest import REPO


def python_blocks():
    text = (REPO / "README.md").read_text()
    start = text.index("## Python")
    section = text[start:]
    end = re.search(r"\n## (?!Python)", section)
    section = section[: end.start()] if end else section
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_readme_python_quick_start_runs(tmp_path, monkeypatch):
    blocks = python_blocks()
    assert blocks, "the README has no ```python block under '## Python'"
    monkeypatch.chdir(REPO)
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})
