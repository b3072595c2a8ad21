"""Integrations: sources (the tracking API and connectors), destinations and syncs."""
