"""The throttles' cache table (settings.CACHES["ratelimit"] without Redis).

`migrate` alone leaves a working site: sign-up and sign-in count attempts in
this table, and a fresh database without it answered them with a 500. Django's
own `createcachetable` logic makes it, for every database cache configured, so
it is a no-op where the table exists (a database set up before this migration)
and where the throttles use Redis.
"""

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.db import BaseDatabaseCache
from django.core.management.commands.createcachetable import Command as CreateCacheTable
from django.db import migrations


def create_cache_tables(apps, schema_editor):
    command = CreateCacheTable()
    command.verbosity = 0
    for alias in settings.CACHES:
        cache = caches[alias]
        if isinstance(cache, BaseDatabaseCache):
            command.create_table(schema_editor.connection.alias, cache._table, dry_run=False)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
    ]

    # Reversing leaves the table: it holds nothing but short-lived counters.
    operations = [migrations.RunPython(create_cache_tables, migrations.RunPython.noop, elidable=False)]
