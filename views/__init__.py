"""Starlette endpoints and Jinja2 templates (htmx). Thin: they call resolvers/."""

from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    from views import (
        account,
        agreement,
        certificate,
        complaint,
        dashboard,
        evaluation,
        expert,
        health,
        institution,
    )

    return [
        *health.routes,
        *dashboard.routes,
        *account.routes,
        *institution.routes,
        *expert.routes,
        *evaluation.routes,
        *complaint.routes,
        *certificate.routes,
        *agreement.routes,
    ]
