"""Integrations with frameworks, each an optional extra imported only when asked for
(``privacy-kit[django]``, ``privacy-kit[fastapi]``, ``privacy-kit[celery]``).

Layer rule: the top layer, above :mod:`privacy_kit.cli`; it may import every layer, and nothing
in privacy_kit imports it (``import privacy_kit`` never imports a framework): a host imports the
integration it uses (``privacy_kit.contrib.django``), which imports its framework.
"""
