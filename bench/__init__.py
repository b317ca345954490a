"""The benchmark harness (issue 10): a deterministic data generator, fixed operations
measured side by side with same-run baselines, and a report.

Run `python -m bench --size 20000 --db sqlite|postgres [--quick]`; see bench/run.py.
"""
