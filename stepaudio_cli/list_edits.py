"""`stepaudio list-edits`: every edit type, its options and the paralinguistic tags, one line each.

Pure data from stepaudio_protos.edits: no daemon needed, so it answers at once and works offline.
"""
from __future__ import annotations

from stepaudio_cli.options import flag


def list_edits(json_out: bool = flag("--json", help="print as JSON")) -> None:
    """List the edits (emotions, styles, speeds, sound tags) with a one-line description each."""
    from stepaudio_protos import edits

    data = edits.catalog()
    if json_out:
        from stepaudio_cli.render import print_json

        print_json(data)
        return
    print(catalog_text(data))


def catalog_text(data: dict) -> str:
    """Plain aligned text: a heading per edit type, then `  option  description` rows."""
    lines: list[str] = []
    for entry in data["edit_types"]:
        flag = f"--{entry['type']}"
        lines.append(f"{flag}: {entry['description']}")
        lines += _rows([(o["name"], o["description"]) for o in entry["options"]])
        if entry["type"] == "paralinguistic":
            lines.append("  tags to put in the text (exact spelling; 'new' = the 2026-01 model only):")
            lines += _rows([(t["tag"], t["description"] + ("  [new]" if t["releases"] == ["2026-01"] else ""))
                            for t in data["paralinguistic_tags"]], indent="    ")
        lines.append("")
    lines.append("example: stepaudio edit in.wav --text 'what it says' --emotion happy -o out.wav")
    return "\n".join(lines)


def _rows(rows: list[tuple[str, str]], indent: str = "  ") -> list[str]:
    if not rows:
        return []
    width = max(len(name) for name, _ in rows)
    return [f"{indent}{name.ljust(width)}  {text}".rstrip() for name, text in rows]
