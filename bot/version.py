"""The installed faqbot version, from package metadata (pyproject.toml's `version`)."""

from __future__ import annotations

from importlib import metadata


def version() -> str:
    """The version pip installed, e.g. "0.2.0"; "0+unknown" when run from an uninstalled tree.

    For `faqbot --version` now and `/readyz` later; it reads no file of the
    checkout, so a replica reports what it is actually running.
    """
    try:
        return metadata.version("faqbot")
    except metadata.PackageNotFoundError:
        return "0+unknown"
