"""``python tests/django_project/manage.py <command>``: the test project's management commands."""

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    # tests/, so that django_project imports
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
