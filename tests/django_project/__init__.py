"""A small Django project (a lending library) that privacy_kit.contrib.django is tested against."""
