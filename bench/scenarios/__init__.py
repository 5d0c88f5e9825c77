"""One module per scenario: each has `TIME_CAP_S` and `run(bench) -> Outcome`."""
