"""The Segment-compatible tracking API: ingestion, request parsing and the /v1/ endpoints."""
