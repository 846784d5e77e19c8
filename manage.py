#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    # Commands may rightly run long (a migration on a big table, waiting for another process's
    # migration): no statement timeout unless asked for. Servers (bin/serve) keep the default.
    os.environ.setdefault("PARLEY_DB_STATEMENT_TIMEOUT_MS", "0")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
