"""HTML pages (htmx) for this domain. Thin: every decision is made in resolvers/."""

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
