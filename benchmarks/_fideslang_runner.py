"""Run by the fideslang virtual environment's interpreter (never privacy_kit's).

``python _fideslang_runner.py FILE``: read the manifests from the JSON file and validate them as
one fideslang taxonomy; print the seconds that took (imports are done before the clock starts).
"""

import json
import sys
import time

from fideslang.parse import load_manifests_into_taxonomy


def main() -> None:
    """Time one read-and-validate of the file named on the command line."""
    path = sys.argv[1]
    start = time.perf_counter()
    with open(path, encoding="utf-8") as fh:
        raw = json.load(fh)
    taxonomy = load_manifests_into_taxonomy(raw)
    elapsed = time.perf_counter() - start
    assert len(taxonomy.data_category) == len(raw["data_category"])
    print(elapsed)


if __name__ == "__main__":
    main()
