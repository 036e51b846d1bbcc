"""The sample-export generator: formats, stories and warts, read back from the written files."""

from __future__ import annotations

import csv
import io
import re
import zoneinfo
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from changeboard.devtools.generate import generate

AS_OF = datetime(2026, 11, 26, tzinfo=UTC)
CHANGES = 4000  # 12,000 incidents: more than the 10,000-row export cap, so they come in two parts
SN_TS = "%Y-%m-%d %H:%M:%S"
JIRA_TS = "%d/%b/%y %I:%M %p"
HOUR = timedelta(hours=1)
# Display values are local (Europe/London): one hour a year repeats, so allow an hour of slack.
DST_SLACK = HOUR


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("sample")
    written = generate(out, seed=7, changes=CHANGES, as_of=AS_OF)
    return out, written


def read_sn(path: Path) -> pl.DataFrame:
    return pl.read_csv(io.StringIO(path.read_bytes().decode("cp1252")), infer_schema=False)


def london(col: str) -> pl.Expr:
    """A ServiceNow display value (Europe/London) as a UTC timestamp."""
    return (
        pl.col(col)
        .replace("", None)
        .str.strptime(pl.Datetime("us"), SN_TS)
        .dt.replace_time_zone("Europe/London", ambiguous="earliest")
        .dt.convert_time_zone("UTC")
    )


@pytest.fixture(scope="module")
def changes(sample: tuple[Path, dict[str, int]]) -> pl.DataFrame:
    ts = [
        "start_date",
        "end_date",
        "work_start",
        "work_end",
        "opened_at",
        "approval_set",
        "closed_at",
        "sys_created_on",
        "sys_updated_on",
    ]
    raw = read_sn(sample[0] / "servicenow" / "change_request.csv")
    return raw.unique(maintain_order=True).with_columns([london(c).alias(f"{c}_ts") for c in ts])


@pytest.fixture(scope="module")
def incidents(sample: tuple[Path, dict[str, int]]) -> pl.DataFrame:
    sn = sample[0] / "servicenow"
    raw = pl.concat([read_sn(sn / "incident.csv"), read_sn(sn / "incident_2.csv")])
    ts = ["opened_at", "resolved_at", "closed_at", "sys_created_on", "sys_updated_on"]
    return raw.with_columns([london(c).alias(f"{c}_ts") for c in ts])


@pytest.fixture(scope="module")
def cmdb(sample: tuple[Path, dict[str, int]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    sn = sample[0] / "servicenow"
    return read_sn(sn / "cmdb_ci.csv"), read_sn(sn / "cmdb_rel_ci.csv")


@pytest.fixture(scope="module")
def windows(sample: tuple[Path, dict[str, int]]) -> pl.DataFrame:
    df = pl.read_csv(sample[0] / "changeboard" / "change_windows.csv", infer_schema=False)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return df.with_columns(
        pl.col("start_at").str.strptime(pl.Datetime("us", "UTC"), fmt).alias("start"),
        pl.col("end_at").str.strptime(pl.Datetime("us", "UTC"), fmt).alias("end"),
    )


def related_pairs(rel: pl.DataFrame) -> pl.DataFrame:
    """CI pairs one relationship apart, both directions."""
    pairs = rel.select(a="parent", b="child")
    return pl.concat([pairs, pairs.select(a="b", b="a")]).unique()


def failed(changes: pl.DataFrame, incidents: pl.DataFrame) -> pl.DataFrame:
    """Completed changes with a flag: Unsuccessful or named in some incident's caused_by."""
    causing = incidents.filter(pl.col("caused_by") != "").select(number="caused_by").unique()
    completed = changes.filter(
        pl.col("state") == "Closed",
        pl.col("close_code").is_in(["Successful", "Successful with issues", "Unsuccessful"]),
    )
    return completed.with_columns(
        failed=(pl.col("close_code") == "Unsuccessful") | pl.col("number").is_in(causing["number"].implode())
    )


# ----------------------------------------------------------------------------------------------
# Files and formats
# ----------------------------------------------------------------------------------------------


def test_files_and_row_counts(sample: tuple[Path, dict[str, int]]) -> None:
    out, written = sample
    expected = {
        "servicenow/change_request.csv",
        "servicenow/change_task.csv",
        "servicenow/rm_release.csv",
        "servicenow/rm_m2m_release_task.csv",
        "servicenow/cmdb_ci.csv",
        "servicenow/cmdb_rel_ci.csv",
        "servicenow/task_ci.csv",
        "servicenow/incident.csv",
        "servicenow/incident_2.csv",
        "jira/changes.csv",
        "changeboard/change_windows.csv",
    }
    assert set(written) == expected
    for name, rows in written.items():
        data = (out / name).read_bytes()
        if name.startswith("servicenow/"):
            assert len(read_sn(out / name)) == rows, name
        else:
            assert data.count(b"\n") >= rows, name
    assert (
        out / "servicenow" / "_export.toml"
    ).read_text() == 'system = "servicenow"\ntimezone = "Europe/London"\n'
    assert (out / "jira" / "_export.toml").read_text() == (
        'system = "jira"\ntimezone = "America/New_York"\ndate_format = "%d/%b/%y %I:%M %p"\n'
    )
    assert written["jira/changes.csv"] == round(0.15 * CHANGES)
    # changes, plus the duplicated rows; 150 <= changes // 4 CIs
    assert CHANGES < written["servicenow/change_request.csv"] < CHANGES + 20
    assert written["servicenow/cmdb_ci.csv"] == CHANGES // 4


def test_servicenow_csv_encoding_and_quoting(sample: tuple[Path, dict[str, int]]) -> None:
    sn = sample[0] / "servicenow"
    data = (sn / "change_request.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    text = data.decode("cp1252")
    assert "–" in text
    assert b"\r\n" not in data
    assert not data.startswith(b"\xef\xbb\xbf")
    header = text.split("\n", 1)[0]
    assert header.startswith('"sys_id","number","short_description","description","type","chg_model","state"')
    assert header.endswith('"backout_plan","test_plan","sys_class_name"')
    # Every value is quoted (embedded quotes doubled, newlines inside quotes), empty values as "".
    record = re.compile(r'("(?:[^"]|"")*"(?:,"(?:[^"]|"")*")*\n)+')
    for name in (
        "change_request.csv",
        "change_task.csv",
        "incident.csv",
        "cmdb_ci.csv",
        "task_ci.csv",
        "rm_release.csv",
    ):
        text = (sn / name).read_bytes().decode("cp1252")
        assert record.fullmatch(text), name
        rows = list(csv.reader(io.StringIO(text, newline="")))
        assert all(len(r) == len(rows[0]) for r in rows), name
    assert ',"",' in (sn / "incident.csv").read_bytes().decode("cp1252")
    assert '"Restart ""app-' in (sn / "change_request.csv").read_bytes().decode("cp1252")  # quotes doubled


def test_timestamps_are_london_display_values(changes: pl.DataFrame) -> None:
    # Summer values are an hour ahead of UTC, winter values equal it; no zone marker in the text.
    sample = changes.filter(pl.col("opened_at") != "").select("opened_at", "opened_at_ts").head(2000)
    for text, utc in sample.iter_rows():
        local = utc.astimezone(zoneinfo.ZoneInfo("Europe/London"))
        assert text == local.strftime(SN_TS)
    assert changes["opened_at"].str.contains(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$").all()


def test_change_columns_and_vocabulary(changes: pl.DataFrame) -> None:
    assert changes.columns[:35] == [
        "sys_id", "number", "short_description", "description", "type", "chg_model", "state", "risk", "impact",
        "priority", "approval", "category", "requested_by", "assignment_group", "assigned_to", "cmdb_ci",
        "business_service", "start_date", "end_date", "work_start", "work_end", "opened_at", "approval_set",
        "closed_at", "sys_created_on", "sys_updated_on", "close_code", "close_notes", "unauthorized", "cab_required",
        "justification", "implementation_plan", "backout_plan", "test_plan", "sys_class_name",
    ]  # fmt: skip
    assert changes["sys_id"].str.contains(r"^[0-9a-f]{32}$").all()
    assert changes["sys_id"].n_unique() == changes["number"].n_unique() == len(changes) == CHANGES
    assert changes["number"].str.contains(r"^CHG\d{7}$").all()
    assert changes["number"].sort()[0] == "CHG0030001"
    assert set(changes["state"]) == {
        "New",
        "Assess",
        "Authorize",
        "Scheduled",
        "Implement",
        "Review",
        "Closed",
        "Canceled",
    }
    assert set(changes["risk"]) == {"High", "Moderate", "Low", "Very High"}
    assert set(changes["impact"]) == {"1 - High", "2 - Medium", "3 - Low"}
    assert set(changes["priority"]) == {"1 - Critical", "2 - High", "3 - Moderate", "4 - Low"}
    assert set(changes["approval"]) == {"Approved", "Requested", "Not Yet Requested", "Rejected"}
    assert set(changes["unauthorized"]) == set(changes["cab_required"]) == {"true", "false"}
    assert set(changes["sys_class_name"]) == {"Change Request"}
    assert (changes["type"] == changes["chg_model"]).all()
    share = changes["type"].value_counts(normalize=True).sort("type")
    shares = dict(zip(share["type"], share["proportion"], strict=True))
    assert shares["Standard"] == pytest.approx(0.45, abs=0.03)
    assert shares["Normal"] == pytest.approx(0.45, abs=0.03)
    assert shares["Emergency"] == pytest.approx(0.10, abs=0.02)
    # Standard changes are pre-approved: no approval time.
    assert (changes.filter(pl.col("type") == "Standard")["approval_set"] == "").all()
    assert (
        changes.filter(pl.col("type") == "Normal", pl.col("state") == "Closed")["approval_set"] != ""
    ).all()


def test_cmdb(cmdb: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    ci, rel = cmdb
    assert ci.columns == [
        "sys_id", "name", "sys_class_name", "operational_status", "install_status", "environment",
        "busines_criticality", "support_group", "owned_by", "sys_created_on", "sys_updated_on",
    ]  # fmt: skip
    assert ci["name"].n_unique() == len(ci)
    shares = dict(ci["sys_class_name"].value_counts(normalize=True).iter_rows())
    assert shares["Business Service"] == pytest.approx(0.03, abs=0.01)
    assert shares["Application"] == pytest.approx(0.25, abs=0.02)
    assert shares["Server"] == pytest.approx(0.40, abs=0.02)
    assert shares["Database"] == pytest.approx(0.15, abs=0.02)
    assert {"Load Balancer", "Network Gear"} <= set(shares)
    assert "Payments" in set(ci["name"])
    assert (
        ci.filter(pl.col("sys_class_name") == "Server")["name"]
        .str.contains(r"^(lnx|win|aix)-[a-z0-9]+-\d{3}$")
        .all()
    )
    assert set(ci["operational_status"]) <= {
        "Operational",
        "Non-Operational",
        "Repair in Progress",
        "Retired",
    }
    assert set(ci["install_status"]) <= {"Installed", "In Maintenance", "Retired"}
    assert set(ci["environment"]) == {"Production", "Test", "Development"}
    assert set(ci["busines_criticality"]) <= {
        "1 - most critical",
        "2 - somewhat critical",
        "3 - less critical",
        "4 - not critical",
    }

    assert set(rel["type"]) == {"Depends on::Used by", "Runs on::Runs", "Connects to::Connected by"}
    names = set(ci["name"])
    assert set(rel["parent"]) <= names
    assert set(rel["child"]) <= names
    cls = dict(ci.select("name", "sys_class_name").iter_rows())
    kinds = rel.with_columns(pc=pl.col("parent").replace_strict(cls), cc=pl.col("child").replace_strict(cls))
    runs = kinds.filter(pl.col("type") == "Runs on::Runs")
    assert set(runs["pc"]) == {"Application"}
    assert set(runs["cc"]) == {"Server"}
    # Every application belongs to exactly one service.
    svc_app = kinds.filter(pl.col("pc") == "Business Service", pl.col("cc") == "Application")
    apps = ci.filter(pl.col("sys_class_name") == "Application")["name"]
    assert svc_app["child"].n_unique() == len(svc_app) == len(apps)
    # Every non-service CI reaches exactly one service within two hops.
    pairs = related_pairs(rel)
    two_hops = pl.concat(
        [pairs, pairs.join(pairs, left_on="b", right_on="a", suffix="2").select("a", b="b2")]
    )
    reach = two_hops.filter(
        pl.col("b").replace_strict(cls) == "Business Service",
        pl.col("a").replace_strict(cls) != "Business Service",
    )
    per_ci = reach.group_by("a").agg(pl.col("b").n_unique())
    non_services = ci.filter(pl.col("sys_class_name") != "Business Service")["name"]
    assert set(per_ci["a"]) == set(non_services)
    assert (per_ci["b"] == 1).all()


def test_releases_and_links(sample: tuple[Path, dict[str, int]], changes: pl.DataFrame) -> None:
    sn = sample[0] / "servicenow"
    rel = read_sn(sn / "rm_release.csv").with_columns(london("work_end").alias("deployed"))
    m2m = read_sn(sn / "rm_m2m_release_task.csv")
    assert rel["number"].str.contains(r"^RLSE\d{7}$").all()
    assert set(rel["state"]) <= {
        "Draft",
        "Scoping",
        "Planning",
        "Development",
        "Testing",
        "Deploying",
        "Completed",
        "Canceled",
    }
    assert {"Completed", "Canceled"} <= set(rel["state"])
    assert set(rel["release_type"]) == {"Major", "Minor", "Patch"}
    assert len(rel) == pytest.approx(CHANGES / 25, rel=0.25)
    completed = rel.filter(pl.col("state") == "Completed")
    assert completed["deployed"].null_count() == 0
    assert set(m2m["release"]) <= set(rel["number"])
    assert set(m2m["task"]) <= set(changes["number"])
    normal = changes.filter(pl.col("type") == "Normal")
    assert m2m["task"].n_unique() / len(normal) == pytest.approx(0.30, abs=0.06)
    # Members are implemented shortly before their release deploys.
    members = m2m.join(completed.select(release="number", deployed="deployed"), on="release").join(
        changes.select(task="number", work_start="work_start_ts", work_end="work_end_ts"), on="task"
    )
    lag = (members["deployed"] - members["work_start"]).dt.total_hours()
    assert (lag > 0).mean() > 0.97
    assert lag.quantile(0.9) < 72


def test_change_tasks_and_affected_cis(
    sample: tuple[Path, dict[str, int]], changes: pl.DataFrame, cmdb: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    sn = sample[0] / "servicenow"
    tasks = read_sn(sn / "change_task.csv")
    assert tasks["number"].str.contains(r"^CTASK\d{7}$").all()
    assert tasks["number"].n_unique() == len(tasks)
    per_change = tasks.group_by("change_request").len()
    assert per_change["change_request"].n_unique() == CHANGES
    assert per_change["len"].min() == 1
    assert per_change["len"].max() == 3
    assert set(tasks["change_task_type"]) == {"planning", "implementation", "testing", "review"}
    assert set(tasks["state"]) == {"Pending", "Open", "In Progress", "Closed", "Canceled"}
    canceled = changes.filter(pl.col("state") == "Canceled")["number"].implode()
    assert (tasks.filter(pl.col("change_request").is_in(canceled))["state"] == "Canceled").all()

    task_ci = read_sn(sn / "task_ci.csv")
    assert set(task_ci["task"]) == set(changes["number"])
    assert set(task_ci["ci_item"]) <= set(cmdb[0]["name"])
    per = task_ci.group_by("task").len()["len"]
    assert per.min() == 1
    assert per.max() <= 4
    assert per.mean() > 1.3
    primary = changes.filter(pl.col("cmdb_ci") != "").select(task="number", ci_item="cmdb_ci")
    assert len(primary.join(task_ci, on=["task", "ci_item"])) == len(primary)
    # The extra affected CIs are mostly one relationship away from the primary.
    pairs = related_pairs(cmdb[1])
    extra = task_ci.join(primary, on="task", suffix="_primary").filter(
        pl.col("ci_item") != pl.col("ci_item_primary")
    )
    near = extra.join(pairs, left_on=["ci_item_primary", "ci_item"], right_on=["a", "b"])
    assert len(near) / len(extra) > 0.6


# ----------------------------------------------------------------------------------------------
# Stories
# ----------------------------------------------------------------------------------------------


def test_failure_odds_rise_with_risk_and_type(changes: pl.DataFrame, incidents: pl.DataFrame) -> None:
    done = failed(changes, incidents)
    by_risk = done.group_by("risk").agg(pl.col("failed").mean(), pl.len())
    rate = dict(by_risk.select("risk", "failed").iter_rows())
    assert rate["Low"] < rate["Moderate"] < rate["High"] < rate["Very High"]
    assert rate["Very High"] > 3 * rate["Low"]
    by_type = dict(done.group_by("type").agg(pl.col("failed").mean()).iter_rows())
    assert by_type["Standard"] < by_type["Normal"] / 2
    assert by_type["Normal"] < by_type["Emergency"]
    assert by_type["Standard"] < 0.03


def test_hot_cis_carry_many_changes(changes: pl.DataFrame, cmdb: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    counts = changes.filter(pl.col("cmdb_ci") != "").group_by("cmdb_ci").len().sort("len", descending=True)
    top = max(1, len(cmdb[0]) // 100)
    assert counts["len"].head(top).sum() / counts["len"].sum() >= 0.15


def test_major_incidents_fixed_by_emergency_change(changes: pl.DataFrame, incidents: pl.DataFrame) -> None:
    fixed = incidents.filter(pl.col("rfc") != "").join(
        changes.select(rfc="number", type="type", ci="cmdb_ci", ws="work_start_ts"), on="rfc", how="left"
    )
    assert len(fixed) > 100
    assert (fixed["type"] == "Emergency").all()
    assert (fixed["ci"] == fixed["cmdb_ci"]).all()
    gap = (fixed["ws"] - fixed["opened_at_ts"]).dt.total_minutes() / 60
    assert gap.min() >= -DST_SLACK.total_seconds() / 3600
    assert gap.max() <= 12 + DST_SLACK.total_seconds() / 3600
    assert set(fixed["priority"]) == {"1 - Critical", "2 - High"}
    # Most major incidents (old enough to have been fixed) get one.
    majors = incidents.filter(
        pl.col("priority").is_in(["1 - Critical", "2 - High"]),
        pl.col("opened_at_ts") < AS_OF - timedelta(days=1),
        pl.col("state") != "Canceled",
    )
    assert (majors["rfc"] != "").mean() > 0.6


def test_weekly_rhythm(changes: pl.DataFrame) -> None:
    ws = changes.filter(pl.col("work_start") != "").with_columns(dow=pl.col("work_start_ts").dt.weekday())
    tue_thu = ws["dow"].is_in([2, 3, 4]).mean()
    weekend = ws["dow"].is_in([6, 7]).mean()
    assert tue_thu > 0.55
    assert weekend < 0.10


def test_freeze_windows_hold_except_emergencies(changes: pl.DataFrame, windows: pl.DataFrame) -> None:
    assert set(windows["kind"]) == {"blackout", "maintenance"}
    freezes = windows.filter(
        pl.col("kind") == "blackout", pl.col("scope").is_null() | (pl.col("scope") == "")
    )
    names = " ".join(freezes["name"])
    assert "Year-end" in names
    assert "Quarter-end" in names
    ye = freezes.filter(pl.col("name").str.contains("Year-end"), pl.col("end") <= AS_OF)
    assert len(ye) >= 1
    assert (ye["start"].dt.strftime("%m-%d") == "12-20").all()
    started = changes.filter(pl.col("work_start") != "").select("type", "work_start_ts")
    inside = started.join_where(
        freezes.select("start", "end"),
        pl.col("work_start_ts") >= pl.col("start"),
        pl.col("work_start_ts") < pl.col("end"),
    )
    hist = freezes.filter(pl.col("end") <= AS_OF)
    freeze_days = sum((e - s).days for s, e in hist.select("start", "end").iter_rows())
    history_days = (AS_OF - datetime(2025, 5, 26, tzinfo=UTC)).days
    non_emergency = inside.filter(pl.col("type") != "Emergency")
    expected = len(started.filter(pl.col("type") != "Emergency")) * freeze_days / history_days
    assert len(non_emergency) < 0.1 * expected
    assert len(inside.filter(pl.col("type") == "Emergency")) >= 3


def test_change_caused_incidents(
    changes: pl.DataFrame, incidents: pl.DataFrame, cmdb: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    pairs = related_pairs(cmdb[1])
    caused = incidents.filter(pl.col("caused_by") != "").join(
        changes.select(
            caused_by="number",
            chg_ci="cmdb_ci",
            we="work_end_ts",
            close_code="close_code",
            risk="risk",
            type="type",
        ),
        on="caused_by",
    )
    assert len(caused) > 50
    gap = (caused["opened_at_ts"] - caused["we"]).dt.total_minutes() / 60
    slack = DST_SLACK.total_seconds() / 3600
    assert gap.min() >= 1 - slack
    assert gap.max() <= 48 + slack
    with_ci = caused.filter(pl.col("chg_ci") != "", pl.col("cmdb_ci") != "")
    same = with_ci["cmdb_ci"] == with_ci["chg_ci"]
    near = with_ci.join(pairs, left_on=["chg_ci", "cmdb_ci"], right_on=["a", "b"], how="semi")
    assert same.mean() > 0.4
    assert same.sum() + len(near) >= 0.98 * len(with_ci)
    # Most change-caused incidents are not linked: many more incidents follow failed changes than name them.
    unsuccessful = changes.filter(pl.col("close_code") == "Unsuccessful").select(
        number="number", ci="cmdb_ci", we="work_end_ts"
    )
    successful = changes.filter(pl.col("close_code") == "Successful").select(
        number="number", ci="cmdb_ci", we="work_end_ts"
    )

    def followers(chg: pl.DataFrame) -> pl.DataFrame:
        return (
            chg.filter(pl.col("ci") != "")
            .join(
                incidents.select("number", "cmdb_ci", "opened_at_ts", "caused_by"),
                left_on="ci",
                right_on="cmdb_ci",
                suffix="_inc",
            )
            .filter(
                pl.col("opened_at_ts") >= pl.col("we") + HOUR,
                pl.col("opened_at_ts") <= pl.col("we") + 48 * HOUR,
            )
        )

    after_bad, after_good = followers(unsuccessful), followers(successful)
    any_bad = after_bad["number"].n_unique() / len(unsuccessful)
    any_good = after_good["number"].n_unique() / len(successful)
    assert any_bad > 2.5 * any_good
    assert len(after_bad) / len(unsuccessful) > 3.5 * len(after_good) / len(successful)
    linked = (after_bad["caused_by"] == after_bad["number"]).mean()
    assert 0.10 < linked < 0.45
    share_linked = (incidents["caused_by"] != "").mean()
    assert 0.003 < share_linked < 0.05


def test_lead_times(changes: pl.DataFrame) -> None:
    normal = changes.filter(pl.col("type") == "Normal", pl.col("state") == "Closed").with_columns(
        approval_h=(pl.col("approval_set_ts") - pl.col("opened_at_ts")).dt.total_minutes() / 60,
        queue_d=(pl.col("work_start_ts") - pl.col("approval_set_ts")).dt.total_minutes() / 1440,
        impl_h=(pl.col("work_end_ts") - pl.col("work_start_ts")).dt.total_minutes() / 60,
    )
    approval = dict(normal.group_by("risk").agg(pl.col("approval_h").median()).iter_rows())
    assert 2 < approval["Low"] < approval["Moderate"] < approval["High"] < approval["Very High"] < 24 * 10
    assert 1 < normal["queue_d"].median() < 7
    impl = changes.filter(pl.col("state") == "Closed").with_columns(
        impl_h=(pl.col("work_end_ts") - pl.col("work_start_ts")).dt.total_minutes() / 60
    )["impl_h"]
    assert ((impl >= 0.5 - 1) & (impl <= 6 + 1)).mean() > 0.99
    assert 0.8 < impl.median() < 3


def test_forward_schedule(
    changes: pl.DataFrame, cmdb: tuple[pl.DataFrame, pl.DataFrame], windows: pl.DataFrame
) -> None:
    horizon = AS_OF + timedelta(days=14)
    open_states = ["New", "Assess", "Authorize", "Scheduled"]
    fwd = changes.filter(
        pl.col("state").is_in(open_states), pl.col("start_date_ts") >= AS_OF, pl.col("end_date_ts") <= horizon
    )
    assert len(fwd) >= 0.025 * CHANGES
    assert set(fwd["state"]) == set(open_states)
    assert (fwd["work_start"] == "").all()
    assert (fwd["closed_at"] == "").all()
    assert (
        fwd.filter(pl.col("state") == "Scheduled", pl.col("type") != "Standard")["approval_set"] != ""
    ).all()

    slots = fwd.filter(pl.col("cmdb_ci") != "").select(
        "number", "cmdb_ci", s="start_date_ts", e="end_date_ts"
    )
    overlap = (
        (pl.col("s") < pl.col("e_b"))
        & (pl.col("s_b") < pl.col("e"))
        & (pl.col("number") < pl.col("number_b"))
    )
    same = slots.join(slots, on="cmdb_ci", suffix="_b").filter(overlap)
    assert len(same) >= 3
    pairs = related_pairs(cmdb[1])
    near = (
        slots.join(pairs, left_on="cmdb_ci", right_on="a")
        .join(slots, left_on="b", right_on="cmdb_ci", suffix="_b")
        .filter(overlap)
    )
    assert len(near) >= 3
    # Exactly one blackout overlaps the next 14 days, for some services; some changes sit inside it.
    upcoming = windows.filter(pl.col("kind") == "blackout", pl.col("start") < horizon, pl.col("end") > AS_OF)
    assert upcoming["name"].n_unique() == 1
    assert (upcoming["scope"].fill_null("") != "").all()
    inside = fwd.join(
        upcoming.select(business_service="scope", bs="start", be="end"), on="business_service"
    ).filter(pl.col("start_date_ts") < pl.col("be"), pl.col("end_date_ts") > pl.col("bs"))
    assert len(inside) >= 1
    # Overdue and backlog.
    overdue = changes.filter(
        pl.col("state") == "Scheduled", pl.col("start_date_ts") < AS_OF, pl.col("work_start") == ""
    )
    assert len(overdue) >= 3
    backlog = changes.filter(pl.col("state").is_in(["New", "Assess", "Authorize"])).with_columns(
        age_d=(pl.lit(AS_OF) - pl.col("opened_at_ts")).dt.total_days()
    )
    ages = backlog["age_d"]
    assert (ages <= 1).sum() >= 1
    assert ((ages > 5) & (ages <= 30)).sum() >= 3
    assert (ages > 90).sum() >= 3
    assert (
        len(
            changes.filter(
                pl.col("state") == "Implement", pl.col("work_start") != "", pl.col("work_end") == ""
            )
        )
        >= 1
    )


def test_maintenance_windows(windows: pl.DataFrame) -> None:
    mw = windows.filter(pl.col("kind") == "maintenance")
    assert mw["scope"].n_unique() >= 3
    assert set(mw["start"].dt.weekday()) == {2, 4}
    assert set(mw["start"].dt.hour()) == {20}
    assert ((mw["end"] - mw["start"]).dt.total_hours() == 6).all()
    assert mw["start"].min() < AS_OF - timedelta(days=500)
    assert mw["end"].max() > AS_OF + timedelta(days=14)
    assert windows["start_at"].str.contains(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$").all()
    assert windows["window_id"].n_unique() == len(windows)


# ----------------------------------------------------------------------------------------------
# Warts
# ----------------------------------------------------------------------------------------------


def test_change_warts(sample: tuple[Path, dict[str, int]], changes: pl.DataFrame) -> None:
    raw = read_sn(sample[0] / "servicenow" / "change_request.csv")
    assert len(raw) - len(changes) >= 3  # exact duplicate rows
    assert raw.filter(raw.is_duplicated())["number"].n_unique() >= 3
    assert len(changes.filter(pl.col("cmdb_ci") == "")) >= 3
    closed = changes.filter(pl.col("state") == "Closed")
    assert (closed["work_end_ts"] < closed["work_start_ts"]).sum() >= 2
    codes = closed["close_code"].value_counts()
    found = dict(codes.iter_rows())
    assert found.get("Partially completed", 0) >= 2
    assert found.get("Rolled back - vendor", 0) >= 2
    assert found.get("", 0) >= 3
    escaped = changes.filter(pl.col("short_description").str.contains(r"^'[-=+@]"))
    assert len(escaped) >= 4
    assert escaped["short_description"].str.starts_with("'-- remove route").any()
    assert not changes["short_description"].str.contains(r"^[-=+@]").any()
    canceled = changes.filter(pl.col("state") == "Canceled")
    stamped = canceled.filter(pl.col("work_end") != "", pl.col("work_end") == pl.col("closed_at"))
    assert len(stamped) >= 3
    assert (canceled["work_start"] == "").all()


def test_incidents(
    incidents: pl.DataFrame, cmdb: tuple[pl.DataFrame, pl.DataFrame], changes: pl.DataFrame
) -> None:
    assert len(incidents) == 3 * CHANGES
    assert incidents["number"].n_unique() == len(incidents)
    assert incidents["sys_id"].n_unique() == len(incidents)
    assert set(incidents["priority"]) == {
        "1 - Critical",
        "2 - High",
        "3 - Moderate",
        "4 - Low",
        "5 - Planning",
    }
    assert set(incidents["state"]) == {"New", "In Progress", "On Hold", "Resolved", "Closed", "Canceled"}
    assert set(incidents["caused_by"]) - {""} <= set(changes["number"])
    assert set(incidents["rfc"]) - {""} <= set(changes["number"])
    assert incidents["problem_id"].str.contains(r"^(PRB\d{7})?$").all()
    unknown = set(incidents["cmdb_ci"]) - {""} - set(cmdb[0]["name"])
    assert 1 <= len(unknown) <= 10
    # Background incidents often name no CI; change-caused ones and major-incident fixes always do.
    assert 0.25 < (incidents["cmdb_ci"] == "").mean() < 0.45
    assert (incidents.filter(pl.col("caused_by") != "")["cmdb_ci"] != "").all()
    assert (incidents.filter(pl.col("rfc") != "")["cmdb_ci"] != "").all()
    closed = incidents.filter(pl.col("state") == "Closed")
    assert (closed["closed_at_ts"] >= closed["resolved_at_ts"]).all()
    assert (
        incidents.filter(pl.col("state").is_in(["New", "In Progress", "On Hold"]))["resolved_at"] == ""
    ).all()


def test_background_incidents_spread_and_often_without_ci(
    incidents: pl.DataFrame, changes: pl.DataFrame, cmdb: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    """Background incidents (no caused_by, no rfc: nearly all of them) are not where the changes are."""
    background = incidents.filter(pl.col("caused_by") == "", pl.col("rfc") == "")
    assert len(background) > 0.9 * len(incidents)
    assert (background["cmdb_ci"] == "").mean() >= 0.25

    def per_ci(df: pl.DataFrame) -> pl.DataFrame:
        counts = df.filter(pl.col("cmdb_ci") != "").group_by("cmdb_ci").len()
        return counts.with_columns(share=pl.col("len") / pl.col("len").sum()).sort("len", descending=True)

    chg, bg = per_ci(changes), per_ci(background)
    top = max(1, len(cmdb[0]) // 100)
    # The top 1 % of CIs carry far less of the background incidents than of the changes ...
    assert bg["share"].head(top).sum() < 0.5 * chg["share"].head(top).sum()
    # ... the incidents are spread wider (Herfindahl index) ...
    assert (bg["share"] ** 2).sum() < 0.5 * (chg["share"] ** 2).sum()
    assert len(bg) > len(chg)
    # ... and the hottest change CIs get no more than a modest share of them.
    hot = chg["cmdb_ci"].head(top).implode()
    assert bg.filter(pl.col("cmdb_ci").is_in(hot))["share"].sum() < 0.05
    # Applications and business services get more than their share of the CIs (even though they more
    # often go without a CI).
    cls = dict(cmdb[0].select("name", "sys_class_name").iter_rows())
    by_class = bg.with_columns(cls=pl.col("cmdb_ci").replace_strict(cls, default="unknown"))
    user_facing = by_class.filter(pl.col("cls").is_in(["Application", "Business Service"]))["share"].sum()
    ci_share = cmdb[0]["sys_class_name"].is_in(["Application", "Business Service"]).mean()
    assert user_facing > 1.1 * ci_share


def test_incidents_come_in_two_parts_below_the_export_cap(sample: tuple[Path, dict[str, int]]) -> None:
    sn = sample[0] / "servicenow"
    first, second = read_sn(sn / "incident.csv"), read_sn(sn / "incident_2.csv")
    assert len(first) < 10_000  # the ingest warns about a file of exactly the cap: the demo must not
    assert len(first) + len(second) == 3 * CHANGES
    assert first["number"].is_sorted()
    assert second["number"].is_sorted()
    assert first["number"][-1] < second["number"][0]
    assert first.columns == second.columns


def test_small_sample_writes_one_incident_file(tmp_path: Path) -> None:
    written = generate(tmp_path, seed=3, changes=500, as_of=AS_OF)
    assert written["servicenow/incident.csv"] == 1500
    assert "servicenow/incident_2.csv" not in written
    assert not (tmp_path / "servicenow" / "incident_2.csv").exists()
    assert written["servicenow/cmdb_ci.csv"] == 150
    assert written["jira/changes.csv"] == 75


def assert_updated_is_latest(df: pl.DataFrame, cols: list[str]) -> None:
    """sys_updated_on is not in the future and not before any of the record's past timestamps."""
    upd = df["sys_updated_on_ts"]
    assert upd.null_count() == 0
    assert (upd <= AS_OF).all()
    for c in cols:
        ts = df[f"{c}_ts"]
        in_past = ts.is_not_null() & (ts <= AS_OF)
        assert (~in_past | (upd >= ts - DST_SLACK)).all(), c


def test_updated_is_latest_and_closed_is_past(
    sample: tuple[Path, dict[str, int]], changes: pl.DataFrame, incidents: pl.DataFrame
) -> None:
    chg_cols = ["start_date", "end_date", "work_start", "work_end", "opened_at", "approval_set", "closed_at"]
    assert_updated_is_latest(changes, [*chg_cols, "sys_created_on"])
    assert_updated_is_latest(incidents, ["opened_at", "resolved_at", "closed_at", "sys_created_on"])
    for df in (changes, incidents):
        assert (df["closed_at_ts"].drop_nulls() <= AS_OF).all()
        assert (df["opened_at_ts"] <= AS_OF).all()
        assert (df["sys_created_on"] == df["opened_at"]).all()
    sn = sample[0] / "servicenow"
    task_cols = ["planned_start_date", "planned_end_date", "work_start", "work_end", "sys_created_on"]
    tasks = read_sn(sn / "change_task.csv").with_columns(
        [london(c).alias(f"{c}_ts") for c in [*task_cols, "sys_updated_on"]]
    )
    assert_updated_is_latest(tasks, task_cols)
    assert (tasks["work_start_ts"].drop_nulls() <= AS_OF).all()
    rel_cols = ["start_date", "end_date", "work_start", "work_end", "sys_created_on"]
    releases = read_sn(sn / "rm_release.csv").with_columns(
        [london(c).alias(f"{c}_ts") for c in [*rel_cols, "sys_updated_on"]]
    )
    assert_updated_is_latest(releases, rel_cols)
    assert (releases["work_end_ts"].drop_nulls() <= AS_OF).all()
    # Implementation tasks carry their change's actual window (canceled changes' stamped work_end aside).
    impl = tasks.filter(pl.col("change_task_type") == "implementation").join(
        changes.filter(pl.col("state") != "Canceled").select(
            change_request="number", cws="work_start", cwe="work_end"
        ),
        on="change_request",
    )
    assert (impl["work_start"] == impl["cws"]).all()
    assert (impl["work_end"] == impl["cwe"]).all()


# ----------------------------------------------------------------------------------------------
# Jira
# ----------------------------------------------------------------------------------------------


def test_jira_export(sample: tuple[Path, dict[str, int]]) -> None:
    data = (sample[0] / "jira" / "changes.csv").read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header, body = rows[0], rows[1:]
    assert header.count("Labels") == 3
    assert header.count("Comment") == 3
    assert header.count("Custom field (Affected services)") == 2
    assert header.count("Custom field (Impact)") == 2
    assert header[:5] == ["Summary", "Issue key", "Issue id", "Issue Type", "Status"]
    assert header[-1] == "Status Category"
    assert len(header) == 37
    assert all(len(r) == 37 for r in body)
    assert text.split("\r\n", 1)[0] == ",".join(header)  # minimal quoting: no quotes in the header
    col = {name: i for i, name in reversed(list(enumerate(header)))}  # first occurrence
    get = lambda name: [r[col[name]] for r in body]  # noqa: E731
    assert all(k.startswith("ITCM-") for k in get("Issue key"))
    assert len(set(get("Issue key"))) == len(body)
    assert set(get("Issue Type")) == {"Change"}
    assert set(get("Project name")) == {"Retail IT Change"}
    assert set(get("Status")) <= {
        "Planning",
        "Awaiting approval",
        "Awaiting implementation",
        "Implementing",
        "Completed",
        "Canceled",
        "Declined",
        "Failed",
    }
    assert {"Completed", "Failed", "Planning"} <= set(get("Status"))
    assert set(get("Resolution")) == {"Done", "Won't Do", "Declined", "Failed", ""}
    assert set(get("Status Category")) == {"To Do", "In Progress", "Done"}
    assert set(get("Custom field (Change type)")) == {"Standard", "Normal", "Emergency"}
    assert set(get("Custom field (Change risk)")) == {"Critical", "High", "Medium", "Low"}
    assert set(get("Custom field (Impact)")) <= {
        "Extensive / Widespread",
        "Significant / Large",
        "Moderate / Limited",
        "Minor / Localized",
    }
    impact2 = {r[col["Custom field (Impact)"] + 1] for r in body}
    assert impact2 <= {"Customer facing", "Internal", ""}
    assert "Customer facing" in impact2
    approvals = [a for a in get("Custom field (Approvals)") if a]
    assert approvals
    assert all(
        a.startswith("com.atlassian.servicedesk.plugins.approvals.internal.customfield.ApprovalsCFValue@")
        for a in approvals
    )
    # Labels fill from the left.
    li = [i for i, h in enumerate(header) if h == "Labels"]
    for r in body:
        filled = [bool(r[i]) for i in li]
        assert filled == sorted(filled, reverse=True)
    # Dates: dd/Mon/yy h:mm AM/PM, hour not zero-padded.
    created = get("Created")
    assert all(re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d\d (1[0-2]|[1-9]):\d\d [AP]M", c) for c in created)
    parsed = [datetime.strptime(c, JIRA_TS) for c in created]
    assert min(parsed) > datetime(2025, 5, 1)
    assert max(parsed) < datetime(2026, 11, 27)
    # Comments: date;accountId;body with ';' and newlines in some bodies.
    comments = [r[i] for r in body for i, h in enumerate(header) if h == "Comment" and r[i]]
    assert comments
    assert all(len(c.split(";", 2)) == 3 for c in comments)
    assert any("\n" in c for c in comments)
    assert any(c.split(";", 2)[2].count(";") for c in comments)
    services = {
        s
        for r in body
        for i, h in enumerate(header)
        if h == "Custom field (Affected services)" and (s := r[i])
    }
    assert "Payments" in services
    assert {"Store Wi-Fi", "POS Tills", "Click & Collect", "Loyalty Kiosk", "Price Labels"} & services


# ----------------------------------------------------------------------------------------------
# Determinism
# ----------------------------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_differs(sample: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    again = tmp_path / "again"
    other = tmp_path / "other"
    generate(again, seed=7, changes=CHANGES, as_of=AS_OF)
    generate(other, seed=8, changes=CHANGES, as_of=AS_OF)
    files = sorted(p.relative_to(sample[0]) for p in sample[0].rglob("*") if p.is_file())
    assert len(files) == 13
    for rel in files:
        assert (again / rel).read_bytes() == (sample[0] / rel).read_bytes(), rel
    assert (other / "servicenow" / "change_request.csv").read_bytes() != (
        sample[0] / "servicenow" / "change_request.csv"
    ).read_bytes()
    assert (other / "jira" / "changes.csv").read_bytes() != (sample[0] / "jira" / "changes.csv").read_bytes()
