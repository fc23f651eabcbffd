"""The Litestar server: app factory, controllers, auth, errors, logging."""
