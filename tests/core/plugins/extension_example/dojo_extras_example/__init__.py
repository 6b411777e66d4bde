"""Example plugin: a trainer add-on, a trainer wrapper, a sampler and a completion criterion."""
