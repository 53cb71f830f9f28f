"""Getting around the pages: the "Status" link for operators only, and back from the dashboard.

A browser that logged in to the operator pages sends the login with every request to the site
afterwards (basic auth covers the whole site here), so the public page can tell an operator
without a session of its own. The RQ dashboard's navigation bar is ours (templates/
rq_dashboard_navbar.html), with a link back to the status page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, request
from jinja2 import BaseLoader, ChoiceLoader, Environment, TemplateNotFound

from web.auth import credentials_match
from web.state import web_state


def is_operator() -> bool:
    """True when the request carries the operators' login."""
    auth = request.authorization
    if auth is None or auth.type != "basic":
        return False
    return credentials_match(web_state().config, auth.username or "", auth.password or "")


def navigation() -> dict[str, Any]:
    """Template values of every page (a Flask context processor)."""
    return {"is_operator": is_operator()}


# rq-dashboard's templates that ours replace, and the names of ours.
DASHBOARD_TEMPLATES = {"rq_dashboard/navbar.html": "rq_dashboard_navbar.html"}


class _Renamed(BaseLoader):
    """Serves `names`' keys from `loader` under their values."""

    def __init__(self, loader: BaseLoader, names: dict[str, str]) -> None:
        self.loader = loader
        self.names = names

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        if template not in self.names:
            raise TemplateNotFound(template)
        return self.loader.get_source(environment, self.names[template])


def install_dashboard_templates(app: Flask) -> None:
    """Make the app's templates in DASHBOARD_TEMPLATES win over rq-dashboard's own."""
    own = app.jinja_loader
    assert own is not None
    app.jinja_loader = ChoiceLoader([_Renamed(own, DASHBOARD_TEMPLATES), own])
