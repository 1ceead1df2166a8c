"""A run's manifest (SPEC §10): what was computed from what, written beside the output.

A manifest is one JSON object::

    {"retcalc_manifest": 1, "retcalc_version": "0.1.0", "definitions_version": "...",
     "command": "retention", "parameters": {"period": "month", ...},
     "inputs": [{"role": "orders", "name": "orders.csv",
                 "files": [{"path": "orders.csv", "bytes": 1234, "sha256": "..."}],
                 "rows": {"read": 10, "used": 9, "dropped": {"no customer id": 1}},
                 "first_order": "2024-01-03", "last_order": "2024-06-28"}],
     "data_start": "2024-01-03", "data_end": "2024-06-29"}

``data_end`` is exclusive: the first day not observed (``--as-of``, else the day after the
last order), the day :mod:`retcalc.metrics` call the data end. Standard input is
listed with the path ``-`` and the size and hash of what was read.

The CLI fills :data:`RUN` as a run goes (:func:`begin` from ``@data_command``, :func:`record`
from the reading step) and :func:`finish` writes it, atomically, once the output is
written. This module imports nothing heavy: ``retcalc --help`` does not pay for it.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retcalc.errors import RetcalcError

if TYPE_CHECKING:
    from retcalc.io.frames import Loaded

#: The manifest layout's version (the key that marks a JSON object as a manifest).
FORMAT_KEY = "retcalc_manifest"
FORMAT = 1
#: The suffix ``retcalc diff`` looks for beside an output when no manifest is named:
#: ``out.csv`` -> ``out.csv.manifest.json``.
SUFFIX = ".manifest.json"
#: Parameters that say where things go or how they look, not what is computed: left out
#: of the manifest (``output`` stays: it names the output the manifest describes).
NOT_PARAMETERS = frozenset({"debug", "manifest", "orders", "customers", "ctx"})


@dataclass
class _Run:
    command: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    inputs: list[tuple[str, Loaded]] = field(default_factory=list)
    extra_files: list[tuple[str, str]] = field(default_factory=list)  # (role, path)
    as_of: dt.date | None = None

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]


#: The run in progress (one per process: the CLI runs one command).
RUN = _Run()


def plain(value: Any) -> Any:
    """A parameter's value as JSON holds it: enums by value, paths and dates as text."""
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, (Path, dt.date)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def begin(command: str, parameters: Mapping[str, Any], path: Path | None) -> None:
    """Start recording a run of ``command`` with its parsed parameters; ``path``: where
    ``--manifest`` asks for it (None: only a report writes one)."""
    RUN.reset()
    RUN.command = command
    RUN.parameters = {
        k: plain(v) for k, v in parameters.items() if k not in NOT_PARAMETERS and v is not None
    }
    RUN.path = path


def record(role: str, loaded: Loaded) -> None:
    """Note an input read for this run (``orders``, ``customers``)."""
    RUN.inputs.append((role, loaded))


def record_file(role: str, path: str) -> None:
    """Note an input read outside :class:`Loaded` (a report's returns file)."""
    RUN.extra_files.append((role, path))


def resolved(name: str, value: Any) -> None:
    """Replace a parameter by its resolved value (a report's ``--as-of`` rule as a date)."""
    if value is not None:
        RUN.parameters[name] = plain(value)


def file_entry(path: Path, shown: str | None = None) -> dict[str, Any]:
    """``path``'s name as given, size in bytes and SHA-256 of its content."""
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise RetcalcError(
            f"{path}: cannot read it for the manifest: {exc.strerror or exc}"
        ) from None
    return {
        "path": shown if shown is not None else str(path),
        "bytes": size,
        "sha256": digest.hexdigest(),
    }


def _files(loaded: Loaded) -> list[dict[str, Any]]:
    table = loaded.table
    if table.path is None and table.spool is not None:  # standard input: what was read
        return [file_entry(table.spool, "-")]
    files = table.files or ((table.path,) if table.path is not None else ())
    return [file_entry(Path(f)) for f in files]


def _days(loaded: Loaded) -> tuple[dt.date | None, dt.date | None]:
    frame = loaded.frame
    if "day" not in frame.columns or frame.height == 0:
        return None, None
    import polars as pl

    first, last = frame.select(
        pl.col("day").min().alias("first"), pl.col("day").max().alias("last")
    ).row(0)
    return first, last


def input_entry(role: str, loaded: Loaded) -> dict[str, Any]:
    """One input of the manifest: its files, its rows and (orders) its first and last day."""
    entry: dict[str, Any] = {"role": role, "name": loaded.name, "files": _files(loaded)}
    rows = loaded.rows
    entry["rows"] = (
        None
        if rows is None
        else {"read": rows.read, "used": rows.used, "dropped": dict(rows.dropped)}
    )
    if role == "orders":
        first, last = _days(loaded)
        entry["first_order"] = plain(first)
        entry["last_order"] = plain(last)
    return entry


def build(
    *,
    command: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    inputs: list[tuple[str, Loaded]] | None = None,
) -> dict[str, Any]:
    """The manifest of the run recorded in :data:`RUN` (or of the arguments given)."""
    from retcalc import __version__
    from retcalc.definitions import VERSION
    from retcalc.periods import observed_end

    params = dict(RUN.parameters if parameters is None else parameters)
    entries = [input_entry(role, loaded) for role, loaded in (inputs or RUN.inputs)]
    entries += [
        {"role": role, "name": path, "files": [file_entry(Path(path), path)], "rows": None}
        for role, path in RUN.extra_files
        if path != "-"
    ]
    orders = next((e for e in entries if e["role"] == "orders"), None)
    first = orders.get("first_order") if orders else None
    last = orders.get("last_order") if orders else None
    as_of = params.get("as_of")
    as_of_day = dt.date.fromisoformat(as_of) if isinstance(as_of, str) and _is_iso(as_of) else None
    end = None
    if last is not None:
        end = observed_end(dt.date.fromisoformat(last), as_of_day).isoformat()
    return {
        FORMAT_KEY: FORMAT,
        "retcalc_version": __version__,
        "definitions_version": VERSION,
        "command": command or RUN.command,
        "parameters": params,
        "inputs": entries,
        "data_start": first,
        "data_end": end,
    }


def _is_iso(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def to_text(manifest: Mapping[str, Any]) -> str:
    return json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def write(path: Path, manifest: Mapping[str, Any], protected: list[Path] | None = None) -> None:
    """Write ``manifest`` to ``path`` atomically, never over an input."""
    from retcalc.render.atomic import atomic_write, check_output_path

    target = check_output_path(path, protected or [])
    try:
        with atomic_write(target) as sink:
            sink.write(to_text(manifest).encode("utf-8"))
    except OSError as exc:
        raise RetcalcError(f"cannot write the manifest {path}: {exc.strerror or exc}") from exc


def protected_paths() -> list[Path]:
    """The inputs of the run recorded: the manifest never replaces one of them."""
    paths: list[Path] = []
    for _, loaded in RUN.inputs:
        paths += [Path(f).resolve() for f in loaded.table.files]
    paths += [Path(p).resolve() for _, p in RUN.extra_files if p != "-"]
    return paths


def finish() -> None:
    """Write the manifest ``--manifest`` asked for, if it did and inputs were read."""
    if RUN.path is None or RUN.command is None:
        return
    path = RUN.path
    try:
        if RUN.inputs or RUN.extra_files:
            write(path, build(), protected_paths())
    finally:
        RUN.reset()
