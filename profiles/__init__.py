"""Profiles: the event store, identity resolution, unified profiles and the customer 360."""
