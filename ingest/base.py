"""What every connector is written against: export settings, a reading, and a source's declaration.

A source system is a module in ``ingest/sources/`` that imports this module (never the registry) and
declares a :class:`Source`: its system name, a reader per file kind, and how it recognises its files
when no manifest names the system. :mod:`changeboard.ingest.registry` lists the declarations and
dispatches to them, so imports run one way: registry -> sources -> base.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from changeboard.ingest.mapping import MappedFrame
from changeboard.ingest.readers import JsonShape, ReadError

# The folder manifest: declares the system, table, time zone... of the exports beside it.
MANIFEST = "_export.toml"
# The system of an export read through a user's mapping file (``--mapping`` or ``mapping = "..."``
# in the manifest): naming a mapping file declares it.
MAPPED_SYSTEM = "mapped"
_DECLARED = ("system", "table", "timezone", "date_format", "encoding", "delimiter")


@dataclass
class ExportSettings:
    """What a source declares about its exports (``_export.toml`` or command-line options)."""

    system: str | None = None
    table: str | None = None
    timezone: str | None = None
    date_format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @classmethod
    def for_file(cls, path: Path, override: ExportSettings | None = None) -> ExportSettings:
        """Settings from the file's folder manifest, overridden by explicit options."""
        base = cls()
        data: dict[str, object] = {}
        manifest = path.parent / MANIFEST
        if manifest.exists():
            try:
                data = tomllib.loads(manifest.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise ReadError(f"{manifest}: not valid TOML: {exc}") from exc
            known: dict[str, Any] = {k: data.pop(k) for k in _DECLARED if k in data}
            base = cls(**known, extra=data)
        if override:
            for k in _DECLARED:
                if getattr(override, k) is not None:
                    setattr(base, k, getattr(override, k))
            base.extra = {**base.extra, **override.extra}
            if "null_values" in override.extra and manifest.exists():
                # the command line's placeholders add to the manifest's, they do not replace them
                base.extra["null_values"] = list(
                    dict.fromkeys(
                        [*text_list(data.get("null_values")), *text_list(override.extra["null_values"])]
                    )
                )
        if base.system is None and base.extra.get("mapping"):
            base.system = MAPPED_SYSTEM
            mapping_file = Path(str(base.extra["mapping"]))
            if (
                not mapping_file.is_absolute()
                and manifest.exists()
                and not (override and override.extra.get("mapping"))
            ):
                base.extra["mapping"] = str(manifest.parent / mapping_file)
        return base


def text_list(value: object) -> list[str]:
    """A setting that may be one text or a list of them (``null_values = "?"`` or ``["?", "-"]``)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple | set):
        return [str(v) for v in value]
    return [str(value)]


@dataclass
class Reading:
    """A file opened by a connector: what was detected, the canonical frames and warnings.

    ``frames`` may be produced as they are asked for (a large export, batch by batch: several frames
    of one entity, one after another); ``warnings`` is complete once they all were. :meth:`close`
    releases what the reading holds (temporary files, a transcoding thread) whether or not every
    frame was taken.
    """

    system: str
    table: str
    frames: Iterable[MappedFrame]
    warnings: list[str]
    detected_by: str
    resources: ExitStack = field(default_factory=ExitStack)
    # The one entity of a reading whose frames are batches of a single entity, as they are read:
    # the loader streams its new rows into one insert statement (see load.StreamLoad).
    stream_entity: str | None = None

    def close(self) -> None:
        closer = getattr(self.frames, "close", None)  # a generator: its own finally blocks run now
        if closer is not None:
            closer()
        self.resources.close()


Reader = Callable[[Path, ExportSettings], Reading]


@dataclass(frozen=True)
class Sample:
    """What detection looks at in a file that no manifest or option declares.

    ``headers``: a CSV's header names, stripped and lower-cased; ``json``: where a JSON document's
    records are and the keys of the first one (None when it holds no array of records).
    """

    path: Path
    kind: str  # csv | xlsx | json | xml (readers.sniff_kind)
    headers: frozenset[str] = frozenset()
    json: JsonShape | None = None


@dataclass(frozen=True)
class Recognised:
    """A source's claim on a file, and how it was told (reported with every reading).

    ``generic``: a match any export of that container could give (ServiceNow's label headers, any
    workbook): taken only when no source recognises the file by its own signature.
    """

    how: str
    generic: bool = False


Recogniser = Callable[[Sample], Recognised | None]


@dataclass(frozen=True)
class Source:
    """A source system's declaration: its name, a reader per file kind, how it knows its files.

    ``recognise`` is None for a source that is only ever declared (a mapping file names it).
    """

    system: str
    readers: Mapping[str, Reader]
    recognise: Recogniser | None = None


__all__ = [
    "MANIFEST",
    "MAPPED_SYSTEM",
    "ExportSettings",
    "Reader",
    "Reading",
    "Recognised",
    "Recogniser",
    "Sample",
    "Source",
]
