"""Benchmarks: the side-by-side harness (``bench/run.sh compare``) and the older single-purpose scripts."""
