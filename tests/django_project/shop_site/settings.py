"""Settings of the test shop: one database (``SHOP_DATABASE_URL``) holds the shop's
tables and Outlast's."""

import os
from pathlib import Path

from shop_site.databases import database

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "only-for-tests"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost"]
INSTALLED_APPS = ["outlast.integrations.django", "shop"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "shop_site.urls"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
DATABASES = {
    "default": database(os.environ.get("SHOP_DATABASE_URL", f"sqlite:///{BASE_DIR / 'shop.db'}")),
}
OUTLAST = {"DATABASE": "default"}
