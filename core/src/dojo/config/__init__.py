"""Configuration: ML-Agents-compatible YAML formats, marshmallow schemas, resolved settings."""
