"""The one exception hierarchy of dojo.

Every error a user can cause (bad config, unknown plugin, broken environment, clashing run id)
derives from :class:`DojoError`; the CLI prints its message without a traceback unless
``--debug`` is given. Always chain with ``raise ... from err`` when wrapping another exception.
"""


class DojoError(Exception):
    """Base class of every error dojo reports to a user."""


class ConfigError(DojoError):
    """The configuration (YAML file or command line) is invalid."""


class PluginError(DojoError):
    """A plugin is missing, failed to load, or registered something invalid."""


class EnvError(DojoError):
    """An environment could not be created, or failed or misbehaved while running."""


class RunError(DojoError):
    """The run's results folder is in a state that forbids the requested action."""


class DivergedError(DojoError):
    """Training produced non-finite (NaN or infinite) values; nothing built from them is saved."""


class ResultsWriteError(DojoError):
    """A file of the run's results could not be written (a full disk, a read-only or removed
    folder); the files written before it are intact."""


def shorten(text: str, limit: int = 100) -> str:
    """``text`` cut to about ``limit`` characters for a message, saying how long it was.

    A value echoed in an error (a run id, an unknown key, a bad number) can be megabytes long;
    the message shows its start, an ellipsis and its length: ``'aaaa…' (52428800 characters)``.
    """
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"
