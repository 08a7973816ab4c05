"""The web console: the registry's models, versions and audit log in a browser.

Server-rendered pages (Jinja2) with a small vendored stylesheet and script, behind the server's
API keys. :func:`console_app` is the ASGI application the server mounts at ``/ui``;
``shipyard ui`` runs it alone over the local registry.
"""

from __future__ import annotations

from shipyard.console.app import ConsoleApp, console_app

__all__ = ["ConsoleApp", "console_app"]
