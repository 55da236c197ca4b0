"""``python manage.py outlast_migrate``: ``outlast migrate`` on the database
``settings.OUTLAST`` names (Outlast's tables have their own migrations, not Django's)."""

from __future__ import annotations

from outlast.cli.migrate import migrate
from outlast.integrations.django.commands import ClickCommand


class Command(ClickCommand):
    click_command = migrate
