"""Great Expectations suites for every lake table, and their Dagster asset checks."""
