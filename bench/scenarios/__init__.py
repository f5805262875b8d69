"""The benchmark scenarios (issue #9 and #11), one module per kind of question, so `bench/run.py` stays a
thin runner that only parses flags, calls them and reports."""
