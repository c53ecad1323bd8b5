"""Session daemon: the only writer of browser sessions in Redis (login, logout, touch, revoke)."""
