"""The data catalogue: every trait, event, property and context path the data holds, with its
type and its class (personal, sensitive, not personal), which drives masking and the builder.

`detectors` and `classify` are pure; `scan` fills the catalogue from the data (a sampled full
scan, and a cheap pass per resolved batch); `selectors` read it; `services` let people confirm
or change a class; `receivers` keep it current as data arrives and fill it when a worker starts.
"""
