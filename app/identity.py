"""Who is using the form: the signed-in user when the deployment configures sign-in, else a typed name.

* **Sign-in configured** (an ``[auth]`` table in ``.streamlit/secrets.toml``, Streamlit's OIDC login):
  the form and the CAB decisions require ``st.login()``; the requester is ``st.user.email`` (never a
  text field), and only the emails in ``[changeboard] cab_members`` may approve or reject.
* **Demo** (no ``[auth]``): the requester types a name, the page says identities are not verified,
  and anyone may record a CAB decision under a typed name (recorded as unverified).

The CAB member list comes from ``st.secrets["changeboard"]["cab_members"]`` (a list of emails), else
the ``CHANGEBOARD_CAB_MEMBERS`` environment variable (comma-separated). A named OIDC provider
(``[auth.<name>]``) is chosen with ``[changeboard] auth_provider = "<name>"``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import streamlit as st
from changeboard.app.forms import clean_line

ENV_CAB_MEMBERS = "CHANGEBOARD_CAB_MEMBERS"
UNVERIFIED_NOTE = (
    "Demo mode: sign-in is not configured, so identities are not verified. Anyone can type any name; "
    "configure sign-in (see the README) before using this for real."
)


@dataclass(frozen=True)
class Identity:
    """The person behind this session. ``verified`` is True only for a signed-in (OIDC) user."""

    name: str
    email: str | None
    verified: bool

    @property
    def key(self) -> str:
        """What the store records as ``created_by`` / ``decided_by``: the email when verified."""
        return (self.email or self.name) if self.verified else self.name


def _secrets_section(name: str) -> Mapping[str, object] | None:
    try:
        if name in st.secrets:
            section = st.secrets[name]
            return section if isinstance(section, Mapping) else None
    except Exception:  # no secrets file at all, or an unreadable one: same as not configured
        return None
    return None


def auth_configured() -> bool:
    """True when the deployment configures Streamlit's OIDC sign-in (an ``[auth]`` secrets table)."""
    return _secrets_section("auth") is not None


def cab_members() -> frozenset[str]:
    """The configured CAB members' emails, lower-cased (empty when none are configured)."""
    section = _secrets_section("changeboard") or {}
    members = section.get("cab_members")
    if members is None:
        raw = os.environ.get(ENV_CAB_MEMBERS, "")
        members = [m for m in raw.split(",") if m.strip()]
    if isinstance(members, str):
        members = [members]
    return frozenset(str(m).strip().lower() for m in members if str(m).strip())  # type: ignore[attr-defined]


def _provider() -> str | None:
    section = _secrets_section("changeboard") or {}
    provider = section.get("auth_provider")
    return str(provider) if provider else None


def signed_in_user() -> Identity | None:
    """The signed-in user, or None (also None when sign-in is not configured)."""
    if not auth_configured():
        return None
    user = st.user
    if not user.get("is_logged_in"):
        return None
    email = user.get("email")
    name = user.get("name") or email or user.get("sub")
    return Identity(name=clean_line(name), email=str(email).lower() if email else None, verified=True)


def sign_in_prompt(message: str, *, key: str) -> None:
    """Tell the user to sign in, with the button that starts the OIDC flow."""
    st.info(message, icon=":material/login:")
    provider = _provider()
    st.button(
        "Sign in",
        key=f"{key}_login",
        icon=":material/login:",
        type="primary",
        on_click=st.login,
        args=(provider,) if provider else (),
    )


def sign_out_control(identity: Identity, *, key: str) -> None:
    """'Signed in as …' with a sign-out button (verified identities only)."""
    if not identity.verified:
        return
    cols = st.columns([4, 1], vertical_alignment="center")
    cols[0].caption(f"Signed in as {identity.email or identity.name}")
    cols[1].button("Sign out", key=f"{key}_logout", on_click=st.logout, icon=":material/logout:")


def can_decide(identity: Identity | None) -> tuple[bool, str]:
    """Whether this person may approve or reject, and why not (plain words)."""
    if identity is None or not identity.name:
        return False, "Type your name to record a decision."
    if not identity.verified:
        return True, UNVERIFIED_NOTE
    members = cab_members()
    if not members:
        return (
            False,
            "No CAB members are configured: set `cab_members` under `[changeboard]` in secrets.toml.",
        )
    if (identity.email or "").lower() not in members:
        return False, "Only CAB members can approve or reject requests. Ask the change manager to add you."
    return True, ""
