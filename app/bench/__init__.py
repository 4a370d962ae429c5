"""``latent-explorer bench``: the benchmark suite.  Each item compares inside one run and
writes its figures to ``BENCHMARKS.md`` and a JSON file; nothing here asserts timings."""
