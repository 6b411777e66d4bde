"""Generated protobuf messages of the Unity ML-Agents protocol (communication API 1.5.0).

Do not edit: regenerate with ``make protos`` from
``plugins/unity/protos/communicator_objects/*.proto``.
"""
