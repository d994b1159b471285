"""Live-traffic monitoring (planned, not yet implemented): log ingestion, prompt and response descriptors,
Evidently drift reports, alert rules and sinks, and retrain triggers. See the project's open issues."""
