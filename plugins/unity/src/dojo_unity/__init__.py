"""dojo-unity: the Unity ML-Agents protocol for dojo.

Registers the ``unity`` environment provider (a Unity build, ``--env path/to/Build``, or the
Editor when there is no ``--env``) and the ``remote`` provider (``--env remote:HOST[:PORT]``,
environments that connect by themselves). ``python -m dojo_unity.serve`` serves any dojo
environment to a waiting trainer as a Unity player would.
"""

__version__ = "0.1.0"
