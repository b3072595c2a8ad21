"""Activation: audience syncs and event forwarding to destination connectors."""
