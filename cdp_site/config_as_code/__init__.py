"""Configuration as code: the whole configuration as one YAML file, exported and applied.

Each app describes its own objects in its `config` module (a `ConfigSection` registered with
`sections.config_section_register`), so every table keeps its one writing app; `engine` reads the
file, asks each section to check and plan its part, and applies the plan in one transaction.
"""
