"""The speaker of each audio file, from a CSV table or from a pattern of its path."""

from __future__ import annotations

import re
from pathlib import Path

from ._csv_tables import read_csv_table


def speakers_from_csv(table):
    """A function from a file's path to its speaker, read from a CSV with columns ``path`` and ``speaker``.

    Relative paths in the table are relative to the table's folder. A file
    that the table does not list has no speaker (None).

    Raises
    ------
    ValueError
        If the table cannot be read, lacks a column, or gives one file two
        speakers; the message names the table.
    """
    table = Path(table)
    frame = read_csv_table(
        table, columns=("path", "speaker"), what="speaker table", layout="a header path,speaker and a row per file"
    )
    speakers = {}
    for path, speaker in zip(frame["path"], frame["speaker"]):
        key = _key(table.parent / path)
        if speakers.setdefault(key, speaker) != speaker:
            raise ValueError(
                f"The speaker table '{table}' gives '{path}' two speakers, {speakers[key]!r} and {speaker!r}."
            )
    return lambda file: speakers.get(_key(file))


def speakers_from_pattern(pattern):
    """A function from a file's path to its speaker: the group ``speaker`` of a regular expression.

    The pattern is searched in the path as given (with ``/`` separators);
    a path it does not match has no speaker (None).

    Raises
    ------
    ValueError
        If the pattern is not a regular expression or has no group named
        ``speaker``.
    """
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"The speaker pattern {pattern!r} is not a regular expression: {exc}.") from exc
    if "speaker" not in compiled.groupindex:
        raise ValueError(
            f"The speaker pattern {pattern!r} has no group named 'speaker', e.g. "
            r"'(?P<speaker>[^/_]+)_[^/]*\.wav$' for files named SPEAKER_rest.wav."
        )

    def speaker_of(file):
        match = compiled.search(Path(file).as_posix())
        return match.group("speaker") if match and match.group("speaker") else None

    return speaker_of


def _key(path):
    return str(Path(path).expanduser().resolve())
