"""Delta exports for the generated sample (devtools: the incremental-build test and the bench).

:func:`write_delta` reads the ServiceNow files :func:`changeboard.devtools.generate.generate` wrote
and writes a delta export beside them, as a source system would send the next day's changes:
updated incidents and changes (new CI, shifted times, a caused_by naming a change), new ones, late
arrivals for old periods, superseded versions (an older version of a record, and two versions of
one record in the same file) and CMDB relationship changes (a relationship moved to another CI, a
new one between a change's CI and the CI of an incident opened just after it: old incidents get
another candidate). The files go through the real ingest like any export.
"""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

SN = "servicenow"
TS_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class DeltaCounts:
    """Rows written per kind (for the caller's message)."""

    incidents: int
    changes: int
    relationships: int


def _scan(path: Path | list[Path]) -> pl.LazyFrame:
    # the sample's ServiceNow files are cp1252; only free text holds non-ASCII bytes, and a
    # replacement character there is as good as any other edit of an updated record
    return pl.scan_csv(path, infer_schema=False, encoding="utf8-lossy")


def _read(path: Path) -> pl.DataFrame:
    return _scan(path).collect()


def _rows(path: Path | list[Path], picked: np.ndarray) -> pl.DataFrame:
    """The rows at the positions ``picked`` (in that order), without reading the file whole."""
    order = pl.DataFrame(
        {"_pos": picked.astype(np.uint32), "_order": np.arange(len(picked), dtype=np.uint32)}
    )
    found = _scan(path).with_row_index("_pos").join(order.lazy(), on="_pos").collect()
    return found.sort("_order").drop("_pos", "_order")


def _write(frame: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    frame.write_csv(buffer, quote_style="always")
    path.write_bytes(buffer.getvalue().encode("cp1252", errors="replace"))


def _newest(path: Path | list[Path]) -> datetime:
    value = (
        _scan(path)
        .select(pl.col("sys_updated_on").str.to_datetime(TS_FORMAT, strict=False).max())
        .collect()
        .item()
    )
    assert isinstance(value, datetime)
    return value


def _shift(column: str, hours: np.ndarray) -> pl.Expr:
    shifted = pl.col(column).str.to_datetime(TS_FORMAT, strict=False) + pl.duration(
        hours=pl.lit(pl.Series(hours))
    )
    return shifted.dt.strftime(TS_FORMAT).alias(column)


def _named(cis: pl.Series) -> np.ndarray:
    """The CI names of a column, without the empty cells (a CSV writes no CI as "" or nothing)."""
    return cis.filter(cis.str.strip_chars().str.len_chars() > 0).to_numpy()


def _pick(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    return np.sort(rng.choice(n, size=min(max(k, 1), n), replace=False))


def write_delta(sample_dir: Path, out_dir: Path, *, seed: int, step: int, share: float = 0.01) -> DeltaCounts:
    """Write one delta export of about ``share`` of the sample's incidents and changes under
    ``out_dir`` (ServiceNow files only). ``step`` numbers the deltas of one sequence: each delta's
    versions are newer than the previous delta's and its new records get their own numbers."""
    rng = np.random.default_rng([seed, step])
    src = sample_dir / SN
    out = out_dir / SN
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / "_export.toml", out / "_export.toml")
    # the generator splits a large incident export into incident.csv, incident_2.csv, ...
    inc_path, chg_path = sorted(src.glob("incident*.csv")), src / "change_request.csv"
    n_inc = int(_scan(inc_path).select(pl.len()).collect().item())
    n_chg = int(_scan(chg_path).select(pl.len()).collect().item())
    change_keys = _scan(chg_path).select("number", "cmdb_ci", "work_end").collect()
    rels, cis = _read(src / "cmdb_rel_ci.csv"), _read(src / "cmdb_ci.csv")
    newest = max(_newest(inc_path), _newest(chg_path), _newest(src / "cmdb_rel_ci.csv"))
    updated_on = (newest + timedelta(minutes=10 * step)).strftime(TS_FORMAT)
    older_on = (newest - timedelta(days=400)).strftime(TS_FORMAT)
    ci_names = cis.filter(pl.col("sys_class_name") != "Business Service")["name"].to_numpy()
    k_inc = max(round(n_inc * share), 4)
    k_chg = max(round(n_chg * share), 4)

    # changes: updated (times shifted, another CI), new ones in old periods (late arrivals)
    upd_c = _rows(chg_path, _pick(rng, n_chg, k_chg // 2))
    upd_c = upd_c.with_columns(
        _shift("work_start", rng.integers(-6, 7, upd_c.height)),
        _shift("work_end", rng.integers(-6, 7, upd_c.height)),
        pl.Series(
            "cmdb_ci",
            np.where(
                rng.random(upd_c.height) < 0.5,
                rng.choice(ci_names, upd_c.height),
                upd_c["cmdb_ci"].to_numpy(),
            ),
        ),
        pl.lit(updated_on).alias("sys_updated_on"),
    )
    ended = np.flatnonzero(change_keys["work_end"].is_not_null().to_numpy())
    new_c = _rows(
        chg_path, np.sort(rng.choice(ended, size=min(k_chg - k_chg // 2, len(ended)), replace=False))
    )
    new_numbers = [f"CHG{9_000_000 + step * 10_000 + i:07d}" for i in range(new_c.height)]
    new_c = new_c.with_columns(
        pl.Series("sys_id", [f"delta{step:04d}c{i:08d}" for i in range(new_c.height)]),
        pl.Series("number", new_numbers),
        pl.Series("cmdb_ci", rng.choice(ci_names, new_c.height)),
        _shift("work_start", rng.integers(-48, 48, new_c.height)),
        _shift("work_end", rng.integers(-48, 48, new_c.height)),
        pl.lit(updated_on).alias("sys_updated_on"),
    )
    # superseded: an older version of a known change (the loaded one stays)
    old_c = _rows(chg_path, _pick(rng, n_chg, max(k_chg // 10, 1))).with_columns(
        pl.lit("superseded version").alias("short_description"), pl.lit(older_on).alias("sys_updated_on")
    )
    change_delta = pl.concat([upd_c, new_c, old_c])

    # incidents: updated (CI, opening time, caused_by), new ones (some late, for old periods),
    # two versions of one record in the same file (the newer wins), an older version of a known one
    upd_i = _rows(inc_path, _pick(rng, n_inc, k_inc // 2))
    caused = rng.random(upd_i.height) < 0.3
    numbers = np.concatenate([change_keys["number"].to_numpy(), np.array(new_numbers, dtype=object)])
    upd_i = upd_i.with_columns(
        pl.Series(
            "cmdb_ci",
            np.where(
                rng.random(upd_i.height) < 0.5,
                rng.choice(ci_names, upd_i.height),
                upd_i["cmdb_ci"].to_numpy(),
            ),
        ),
        _shift("opened_at", rng.integers(-30, 31, upd_i.height)),
        pl.Series(
            "caused_by", np.where(caused, rng.choice(numbers, upd_i.height), upd_i["caused_by"].to_numpy())
        ),
        pl.lit(updated_on).alias("sys_updated_on"),
    )
    # new incidents open on the CI of a (new or known) change shortly after its end
    anchors = pl.concat(
        [
            new_c.select("cmdb_ci", "work_end"),
            change_keys.filter(
                pl.col("work_end").is_not_null() & (pl.col("cmdb_ci").str.strip_chars() != "")
            ).select("cmdb_ci", "work_end"),
        ]
    )
    anchors = anchors[rng.integers(0, anchors.height, k_inc - k_inc // 2).tolist()]
    base = _rows(inc_path, rng.integers(0, n_inc, anchors.height))
    new_i = base.with_columns(
        pl.Series("sys_id", [f"delta{step:04d}i{i:08d}" for i in range(base.height)]),
        pl.Series("number", [f"INC{9_000_000 + step * 10_000 + i:07d}" for i in range(base.height)]),
        anchors["cmdb_ci"].alias("cmdb_ci"),
        (
            anchors["work_end"].str.to_datetime(TS_FORMAT, strict=False)
            + pl.duration(hours=pl.lit(pl.Series(rng.integers(0, 30, base.height))))
        )
        .dt.strftime(TS_FORMAT)
        .alias("opened_at"),
        pl.lit(updated_on).alias("sys_updated_on"),
    )
    twice = upd_i.head(2).with_columns(
        pl.lit("an earlier version in the same file").alias("short_description"),
        pl.lit((newest + timedelta(minutes=10 * step - 5)).strftime(TS_FORMAT)).alias("sys_updated_on"),
    )
    old_i = _rows(inc_path, _pick(rng, n_inc, max(k_inc // 10, 1))).with_columns(
        pl.lit(older_on).alias("sys_updated_on"), pl.lit(None, dtype=pl.String).alias("cmdb_ci")
    )
    incident_delta = pl.concat([upd_i, twice, new_i, old_i])

    # CMDB: a relationship moved to another CI; a new one from a change's CI to an incident's CI
    moved = rels[_pick(rng, rels.height, 2).tolist()].with_columns(
        pl.Series("child", rng.choice(ci_names, 2)), pl.lit(updated_on).alias("sys_updated_on")
    )
    linked = pl.DataFrame(
        {
            "sys_id": [f"delta{step:04d}r{i:08d}" for i in range(3)],
            "parent": rng.choice(_named(change_keys["cmdb_ci"]), 3),
            "child": rng.choice(_named(new_i["cmdb_ci"]), 3),
            "type": ["Depends on::Used by"] * 3,
            "sys_updated_on": [updated_on] * 3,
        }
    ).select(rels.columns)
    rel_delta = pl.concat([moved, linked])

    _write(change_delta, out / "change_request.csv")
    _write(incident_delta, out / "incident.csv")
    _write(rel_delta, out / "cmdb_rel_ci.csv")
    return DeltaCounts(incident_delta.height, change_delta.height, rel_delta.height)
