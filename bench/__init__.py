"""Benchmarks of aurora-restore on the local stack (`make bench`, `python -m bench.run --help`)."""
