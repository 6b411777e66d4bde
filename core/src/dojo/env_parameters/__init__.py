"""ML-Agents' built-in environment-parameter samplers and lesson completion criteria."""
