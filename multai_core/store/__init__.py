"""Pulled models: where `multai pull` puts them and how they are recorded."""
