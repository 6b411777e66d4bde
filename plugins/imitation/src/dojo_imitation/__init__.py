"""Imitation learning for dojo: Unity ML-Agents ``.demo`` files, read and written.

Quick start::

    from dojo_imitation.demo_reader import load_demonstration

    demo = load_demonstration("Demos/3DBall.demo")  # a file, or a folder of .demo files
    demo.behavior_name, demo.steps, demo.number_episodes, demo.mean_reward
    demo.observations[0]  # [steps, *shape] float32, images [C, H, W] in [0, 1]

    from dojo_imitation.demo_writer import write_demonstration

    write_demonstration("copy.demo", demo)  # Unity's byte layout
"""

__version__ = "0.1.0"
