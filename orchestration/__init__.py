"""Dagster wiring: partitions, jobs, the inbox sensor and the Definitions."""
