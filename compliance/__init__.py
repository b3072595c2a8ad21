"""Compliance: consent, data subject requests, suppression and the audit log."""
