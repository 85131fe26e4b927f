"""The migrations of privacy_kit's Django app: the tables of the Django state store."""
