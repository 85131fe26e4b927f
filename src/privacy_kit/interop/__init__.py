"""Interoperability with other privacy tools and vocabularies.

* :mod:`privacy_kit.interop.fides` reads and writes fides manifests (``data_category``,
  ``data_use``, ``data_subject`` and ``dataset`` lists), without depending on fideslang.
* :mod:`privacy_kit.interop.dpv` maps the default taxonomy to W3C Data Privacy Vocabulary IRIs.
* :mod:`privacy_kit.interop.gpc` parses the Global Privacy Control (``Sec-GPC``) signal.

Each is imported on its own (``from privacy_kit.interop import fides``); none is imported by
``import privacy_kit``.
"""

from __future__ import annotations

__all__: list[str] = []
