"""privacy_kit's benchmarks: each operation against the hand-written code it replaces.

Run ``python -m benchmarks [--quick] [--only NAME] [--markdown FILE]``; see docs/benchmarks.md.
"""
