"""Starlette endpoints and Jinja2 templates (htmx). Thin: they call resolvers/."""

from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    from views import account, certificate, health, institution

    return [*health.routes, *account.routes, *institution.routes, *certificate.routes]
