"""Assembly of the Manager stand-in aiohttp application."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from devstack import dev_routes, plugin_routes, routes, ui_routes
from devstack.middleware import (
    access_log_middleware,
    gateway_middleware,
    problem_middleware,
    stamp_response_headers,
)
from devstack.state import (
    RATE_LIMITS_KEY,
    SETTINGS_KEY,
    STATS_KEY,
    USERS_KEY,
    AuthStats,
    RateLimitBook,
    ServerSettings,
)
from devstack.users import UserDirectory


def create_app(
    users: UserDirectory | None = None,
    *,
    max_password_age: timedelta | None = None,
) -> web.Application:
    """Build the app. ``max_password_age`` enables password expiry and update-password-no-auth."""
    app = web.Application(
        # Outermost first: the gateway must be innermost so a method override can swap the handler.
        middlewares=[access_log_middleware, problem_middleware, gateway_middleware],
        client_max_size=16 * 1024**2,  # caps buffered JSON bodies only; uploads stream
    )
    app[USERS_KEY] = users if users is not None else UserDirectory.with_defaults()
    app[STATS_KEY] = AuthStats()
    app[RATE_LIMITS_KEY] = RateLimitBook()
    app[SETTINGS_KEY] = ServerSettings(max_password_age=max_password_age)
    app.router.add_routes(routes.routes)
    app.router.add_routes(dev_routes.routes)
    app.router.add_routes(ui_routes.routes)
    app.router.add_routes(plugin_routes.routes)
    app.on_response_prepare.append(stamp_response_headers)
    return app
