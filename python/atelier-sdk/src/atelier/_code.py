"""Code snapshots: a job's, a component's or a deployment's ``code`` folder uploaded as the CLI
uploads it, leaving out what ``.amlignore`` and ``.gitignore`` files (in any folder) name."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import List, Tuple

from ._http import Connection, segment, segments
from .exceptions import ValidationError

IGNORE_FILES = (".gitignore", ".amlignore")


class _Rule:
    """One line of an ignore file, with gitignore's meaning."""

    def __init__(self, line: str) -> None:
        self.negated = line.startswith("!")
        pattern = line[1:] if self.negated else line
        self.only_folders = pattern.endswith("/")
        pattern = pattern.rstrip("/")
        anchored = "/" in pattern
        pattern = pattern.lstrip("/")
        regex = ""
        index = 0
        while index < len(pattern):
            char = pattern[index]
            if pattern.startswith("**/", index):
                regex += "(?:.*/)?"
                index += 3
                continue
            if pattern.startswith("**", index):
                regex += ".*"
                index += 2
                continue
            regex += {"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char))
            index += 1
        self.regex = re.compile(("^" if anchored else "^(?:.*/)?") + regex + "$")

    def matches(self, relative: str, is_folder: bool) -> bool:
        return (is_folder or not self.only_folders) and bool(self.regex.match(relative))


def _rules(folder: Path) -> List[_Rule]:
    rules = []
    for name in IGNORE_FILES:
        try:
            text = (folder / name).read_text()
        except OSError:
            continue
        rules += [_Rule(line.strip()) for line in text.splitlines()
                  if line.strip() and not line.strip().startswith("#")]
    return rules


def code_files(root: Path) -> List[Tuple[str, Path]]:
    """The files of a code folder (or the one file), relative to it, without the ignored ones."""
    if root.is_file():
        return [(root.name, root)]
    files: List[Tuple[str, Path]] = []

    def walk(folder: Path, inherited: List[Tuple[Path, _Rule]]) -> None:
        scoped = inherited + [(folder, rule) for rule in _rules(folder)]
        for entry in sorted(folder.iterdir()):
            if entry.name == ".git":
                continue
            is_folder = entry.is_dir()
            ignored = False
            for base, rule in scoped:
                if rule.matches(entry.relative_to(base).as_posix(), is_folder):
                    ignored = not rule.negated
            if ignored:
                continue
            if is_folder:
                walk(entry, scoped)
            elif entry.is_file():
                files.append((entry.relative_to(root).as_posix(), entry))

    walk(root, [])
    return files


def upload_code(connection: Connection, workspace: str, root: Path, written: str) -> str:
    """Uploads a code folder as a snapshot; returns its id."""
    if not root.exists():
        raise ValidationError(f"code '{written}' does not exist ({root})")
    snapshot = uuid.uuid4().hex
    for relative, path in code_files(root.resolve()):
        connection.put_file(f"/workspaces/{segment(workspace)}/code-uploads/{snapshot}/{segments(relative)}", path)
    return snapshot
