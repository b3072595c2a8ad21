"""Incoming webhooks: signed JSON posted to a source's URL, mapped to an event and stored."""
