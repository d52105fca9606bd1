"""Code comments cite the engine facts as docs/engine/<file>.md#<section>: every such citation must name a
file and a heading that exist, so the repository carries the facts its code relies on."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CITATION = re.compile(r"docs/engine/([\w-]+\.md)(?:#([\w-]+))?")
SOURCES = ("daemon", "stepaudio_cli", "protos", "tests", "benchmarks")


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(doc: Path) -> set[str]:
    return {_anchor(line.lstrip("#")) for line in doc.read_text().splitlines() if line.startswith("#")}


def _citations() -> list[tuple[str, str, str]]:
    found = []
    for folder in SOURCES:
        for path in (REPO / folder).rglob("*.py"):
            for file, anchor in CITATION.findall(path.read_text(errors="replace")):
                found.append((str(path.relative_to(REPO)), file, anchor))
    return found


def test_every_engine_doc_citation_resolves() -> None:
    citations = _citations()
    assert len(citations) > 100  # the engine cites its facts throughout
    anchors = {doc.name: _anchors(doc) for doc in (REPO / "docs" / "engine").glob("*.md")}
    broken = [c for c in citations if c[1] not in anchors or (c[2] and c[2] not in anchors[c[1]])]
    assert not broken, f"citations of missing docs/engine sections: {broken[:10]}"


OUTSIDE = ("engine" + "-spec", "/work/" + "shared")  # the former outside spec and shared folder (split: not found here)


def test_no_citation_of_documents_outside_the_repository() -> None:
    for folder in SOURCES:
        for path in (REPO / folder).rglob("*.py"):
            text = path.read_text(errors="replace")
            assert not any(name in text for name in OUTSIDE), path
