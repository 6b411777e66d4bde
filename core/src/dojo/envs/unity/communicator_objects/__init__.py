"""Generated protobuf messages of the Unity ML-Agents protocol (communication API 1.5.0).

Do not edit: regenerate with ``make protos`` from ``core/protos/communicator_objects/*.proto``.
"""
