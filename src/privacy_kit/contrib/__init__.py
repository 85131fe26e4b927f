"""Integrations with web frameworks, each an optional extra (``privacy-kit[django]``).

Nothing here is imported by ``import privacy_kit``: a host imports the integration it uses
(``privacy_kit.contrib.django``), which imports its framework.
"""
