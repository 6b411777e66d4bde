"""The ``imitation`` plugin module (entry point ``dojo.plugins: imitation``).

It implements no hook yet: pluggy accepts a plugin module without hook implementations, so
installing dojo-imitation adds it to ``dojo plugins`` and nothing else. The .demo reader and
writer are libraries (:mod:`dojo_imitation.demo_reader`, :mod:`dojo_imitation.demo_writer`);
the ``behavioral_cloning`` section, the ``offline_bc`` / ``online_bc`` trainers and the ``gail``
reward signal will be registered here.
"""

from __future__ import annotations
