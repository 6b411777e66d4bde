"""The environment API (modelled on ML-Agents' low-level API) and its providers."""
