from servicekit.pytest_plugin import django_db_setup  # noqa: F401  (PostgreSQL as SaaS runs it, or SQLite)
