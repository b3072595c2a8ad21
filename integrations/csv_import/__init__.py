"""CSV imports: reading uploaded files as a stream, mapping their columns to events, and keeping the
files and their bad-row reports under the var directory."""
