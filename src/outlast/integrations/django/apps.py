"""The Django app: ``INSTALLED_APPS = [..., "outlast.integrations.django"]``."""

from __future__ import annotations

from django.apps import AppConfig

from outlast.sdk.client import configure

from . import conf
from .client import SettingsClient


class OutlastConfig(AppConfig):  # type: ignore[misc]  # Django has no types
    """Reads ``settings.OUTLAST`` at start-up (a mistake stops the app with
    ``ImproperlyConfigured``) and points Outlast's module-level calls at that database."""

    name = "outlast.integrations.django"
    label = "outlast"
    verbose_name = "Outlast"

    def ready(self) -> None:
        configure_client()


_configured: list[SettingsClient] = []


def configure_client() -> SettingsClient | None:
    """The client ``settings.OUTLAST`` describes, set behind ``task.trigger`` and the other
    module-level calls; None (nothing set) when it names no database. Called again (the
    settings changed, in a test), it closes the client it set before."""
    settings = conf.read()
    while _configured:
        _configured.pop().close()
    if settings.database_url is None:
        return None
    client = SettingsClient(settings.database_url, settings.environment)
    configure(client)
    _configured.append(client)
    return client
