"""One partition per ingestion batch (never one per voice)."""

import dagster as dg

voice_batches = dg.DynamicPartitionsDefinition(name="voice_batches")
