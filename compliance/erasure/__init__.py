"""Erasure and access for data subject requests.

`subject` turns a request's identifiers into whom it is about; `stores` holds compliance's own
rows in the registry every app joins (`cdp_site.erasure`); `runner` erases through every store
and asks destinations; `scan` searches every text and JSON column for what is left; `archive`
builds the access request's download.
"""
