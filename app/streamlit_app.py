"""changeboard's Streamlit entrypoint: page config, navigation, the global sidebar filters, the footer.

Adding a page is one line in ``SECTIONS``. Page scripts live in ``app/views/``, deliberately not
``app/pages/``: Streamlit 1.67 still switches to its legacy multipage mode (MPA v1) for the first
session of a server process when a ``pages/`` folder sits next to the entrypoint, so a deep link such
as ``/changes`` opened first after a restart would run the page without this entrypoint (no sidebar
filters, no footer). tests/app/test_pages.py guards against the folder coming back.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from changeboard.app import components, data, db, filters

PAGES = Path(__file__).resolve().parent / "views"

# Section -> (file under views/, title, material icon). Other issues add the "CAB" and "Requests" sections.
SECTIONS: dict[str, list[tuple[str, str, str]]] = {
    "Metrics": [
        ("overview.py", "Overview", ":material/dashboard:"),
        ("changes.py", "Changes", ":material/published_with_changes:"),
        ("lead_times.py", "Lead times", ":material/timer:"),
        ("incidents.py", "Incidents & attribution", ":material/crisis_alert:"),
        ("releases.py", "Releases", ":material/rocket_launch:"),
        ("services.py", "Services & CIs", ":material/lan:"),
        ("backlog.py", "Backlog & schedule", ":material/event_upcoming:"),
        ("data_quality.py", "Data quality", ":material/fact_check:"),
    ],
    "CAB": [("cab.py", "CAB meeting pack", ":material/groups:")],
    # The request pages act on single requests: the sidebar's period and dimension filters do not apply
    # there, so they are not drawn (FILTERED_SECTIONS).
    "Requests": [
        ("change_request.py", "Raise a change", ":material/edit_note:"),
        ("my_requests.py", "My requests", ":material/list_alt:"),
        ("cab_decisions.py", "CAB decisions", ":material/gavel:"),
    ],
}


FILTERED_SECTIONS = ("Metrics", "CAB")


def filtered_titles() -> set[str]:
    """Titles of the pages that draw the sidebar filters."""
    return {title for section in FILTERED_SECTIONS for _file, title, _icon in SECTIONS[section]}


def build_navigation() -> dict[str, list[st.Page]]:
    """st.Page objects per non-empty section; the first page is the default."""
    nav: dict[str, list[st.Page]] = {}
    first = True
    for section, pages in SECTIONS.items():
        if not pages:
            continue
        nav[section] = [
            st.Page(PAGES / file, title=title, icon=icon, default=first and i == 0)
            for i, (file, title, icon) in enumerate(pages)
        ]
        first = False
    return nav


def main() -> None:
    st.set_page_config(
        page_title="changeboard",
        page_icon=":material/published_with_changes:",
        layout="wide",
        initial_sidebar_state="expanded",
    )
    pg = st.navigation(build_navigation(), position="sidebar", expanded=True)
    try:
        pub = db.published()
    except db.NoWarehouse as exc:
        st.title(pg.title)
        components.empty_state(
            "No warehouse has been published yet.",
            f"{exc}. The dashboards appear as soon as the first build is published.",
        )
        return
    problem = db.contract_problem()
    if problem is not None:
        st.title(pg.title)
        st.error(problem, icon=":material/sync_problem:")
        return
    if pub.warning:  # a damaged version pointer: the published symlink is served, and said so
        st.warning(pub.warning, icon=":material/warning:")
    if pg.title in filtered_titles():
        choices_df = data.dimension_values()
        choices = {
            name: choices_df.filter(choices_df["dimension"] == dim)["dimension_value"].to_list()
            for name, (dim, _col, _label) in filters.DIMENSIONS.items()
        }
        periods = {grain: data.periods(grain=grain) for grain in filters.GRAINS}
        filters.render_sidebar(periods, choices, as_of=data.as_of(), value_labels=components.labels().values)
    pg.run()
    version = data.warehouse_version()
    built_at = version["built_at"][0] if version.height else "unknown"
    components.footer(pub.version, built_at, pub.published_at)


main()
