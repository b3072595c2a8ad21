"""Integrations: sources sending through the tracking API, their debugger and quarantine."""
