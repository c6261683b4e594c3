"""Demo data: realistic generators (pure) and the loader that writes a demo workspace."""
