"""Plugins that ship with the core, registered by the host like any third-party plugin."""
