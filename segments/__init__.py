"""Segments: audience definitions, the compiler, and materialised membership."""
