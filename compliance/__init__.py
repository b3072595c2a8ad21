"""Compliance: consent and the audit log of access to personal data."""
