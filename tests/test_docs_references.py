"""Every reference in the repository to a Markdown file (``something.md``) or to a path under
``docs/`` names a file that exists in the repository: code never sends a reader to a document
that is not there (docs/README.md lists the documents).

A reference resolves when the path exists relative to the repository root or to the directory of
the file that mentions it (Markdown links such as ``(../bench/README.md)``). URLs are not
references to this repository and are skipped.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

THIS_FILE = Path(__file__).resolve()  # its examples name missing files on purpose
ROOT = THIS_FILE.parent.parent
SCANNED_SUFFIXES = (".py", ".md", ".html", ".sql")

URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://\S+")
# A path ending in .md, or starting with docs/; not preceded by a character that would make it the
# tail of a longer word or path (``foo/docs/x`` is not a reference to our docs/).
MD_REF = re.compile(r"(?<![\w/.-])((?:\.{1,2}/)*[\w./-]*[\w-]\.md)(?![\w-])")
DOCS_REF = re.compile(r"(?<![\w/.-])((?:\.{1,2}/)*docs/[\w./-]*[\w-])")


def tracked_files() -> list[Path]:
    """The files git tracks, plus untracked ones not ignored (a new document before its commit)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:  # pragma: no cover - a checkout without git
        pytest.fail(f"cannot list the repository's files with git: {exc}")
    return sorted({ROOT / name for name in out.decode().split("\0") if name})


def references(text: str) -> list[tuple[int, str]]:
    """``(line number, referenced path)`` for every Markdown-file or docs/ reference in ``text``."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = URL.sub(" ", line)
        seen = {m.group(1).rstrip(".") for pattern in (MD_REF, DOCS_REF) for m in pattern.finditer(line)}
        found.extend((number, reference) for reference in sorted(seen))
    return found


def resolves(reference: str, source: Path, root: Path = ROOT) -> bool:
    for base in (root, source.parent):
        candidate = (base / reference).resolve()
        if candidate.is_relative_to(root) and candidate.exists():
            return True
    return False


def dangling_references(files: list[Path], root: Path = ROOT) -> list[str]:
    problems = []
    for path in files:
        if path.suffix not in SCANNED_SUFFIXES or not path.is_file() or path == THIS_FILE:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, reference in references(text):
            if not resolves(reference, path, root):
                problems.append(f"{path.relative_to(root)}:{number}: {reference}")
    return problems


def test_every_referenced_document_exists():
    files = tracked_files()
    assert any(f.suffix == ".py" for f in files) and any(f.suffix == ".md" for f in files)
    problems = dangling_references(files)
    assert not problems, "references to files that are not in the repository:\n" + "\n".join(problems)


def test_the_scan_finds_and_resolves_references(tmp_path):
    """The scanner itself: it must see the forms used in this repository, resolve the ones that
    exist (from the root or relative to the mentioning file) and report the ones that do not."""
    assert references('see GONE.md ("Ledger") and docs/ops/x.md,\nor [a](../bench/README.md)') == [
        (1, "GONE.md"),
        (1, "docs/ops/x.md"),
        (2, "../bench/README.md"),
    ]
    assert references("https://example.com/docs/guide.md and foo/docs/bar") == []
    assert references("see docs/reliability.md. And docs/img") == [
        (1, "docs/img"),
        (1, "docs/reliability.md"),
    ]

    source = ROOT / "docs" / "README.md"
    assert resolves("architecture.md", source)  # relative to docs/
    assert resolves("../bench/README.md", source)
    assert resolves("docs/reliability.md", ROOT / "config" / "settings.py")  # from the root
    assert not resolves("GONE.md", ROOT / "config" / "settings.py")
    assert not resolves("../../etc/passwd.md", source)  # outside the repository does not count

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "here.md").write_text("# here\n")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "mod.py").write_text(
        '"""Details in ELSEWHERE.md and docs/nowhere.md;\nsee docs/here.md and ../docs/here.md."""\n'
    )
    assert dangling_references([tmp_path / "app" / "mod.py"], root=tmp_path) == [
        "app/mod.py:1: ELSEWHERE.md",
        "app/mod.py:1: docs/nowhere.md",
    ]
