"""Where the files that ship with changeboard are: the dbt project and the Streamlit app.

The app is the package ``changeboard.app`` (the repository's ``app/`` folder). The dbt project is
package data: a wheel holds the repository's ``dbt/`` folder as ``changeboard/dbt/`` (see
pyproject.toml); an editable checkout has it beside ``changeboard/``. ``dbt/`` has no
``__init__.py`` on purpose: a Python started in the repository's root would import it instead of
dbt-core.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def dbt_project_dir() -> Path:
    """The dbt project's folder (``dbt_project.yml``, ``profiles.yml``, models, seeds, macros)."""
    for candidate in (_HERE / "dbt", _HERE.parent / "dbt"):  # installed wheel, then a checkout
        if (candidate / "dbt_project.yml").is_file():
            return candidate
    raise FileNotFoundError(
        f"the dbt project is missing: no dbt_project.yml in {_HERE / 'dbt'} or {_HERE.parent / 'dbt'}"
    )


def app_dir() -> Path:
    """The Streamlit app's folder (``streamlit_app.py``, ``views/``, ``.streamlit/config.toml``)."""
    return Path(str(files("changeboard.app")))
