"""Recurrent memory (``network_settings.memory``): an LSTM after the network body.

As in ML-Agents, a *memory* is one flat vector per agent of ``memory_size`` floats: the LSTM's
hidden state ``h`` in the first half and its cell state ``c`` in the second, so the LSTM has
``memory_size / 2`` units and that is also the width of the features it outputs.

The module works on batches of *sequences* laid out flat, the way every other layer of the
torch layer sees its inputs: ``[n_sequences * sequence_length, features]`` with each sequence's
steps consecutive, plus one starting memory per sequence ``[n_sequences, memory_size]``. A
single rollout step is the special case ``sequence_length == 1``.
"""

from __future__ import annotations

import torch
from torch import nn

from dojo.errors import ConfigError

# ML-Agents' LSTM: forget-gate bias 1 (remember by default at the start of training).
FORGET_BIAS = 1.0


class LSTMMemory(nn.Module):
    """One LSTM layer of ``memory_size / 2`` units over flat sequences.

    Args:
        input_size: width of the features it receives (the body's output).
        memory_size: floats of memory per agent (hidden + cell); even and at least 2.

    Attributes:
        memory_size: as given.
        output_size: ``memory_size // 2`` features per step.

    Raises:
        ConfigError: ``memory_size`` is odd or smaller than 2 (the config schema refuses these
            first; this guards direct construction).
    """

    def __init__(self, input_size: int, memory_size: int) -> None:
        super().__init__()
        if memory_size < 2 or memory_size % 2:
            raise ConfigError(
                f"network_settings.memory.memory_size: must be even and ≥ 2, got {memory_size}"
            )
        self.memory_size = int(memory_size)
        self.output_size = self.memory_size // 2
        self.lstm = nn.LSTM(input_size, self.output_size, batch_first=True)
        for name, parameter in self.lstm.named_parameters():
            if name.startswith("weight"):
                nn.init.xavier_uniform_(parameter)
            else:
                nn.init.zeros_(parameter)
        with torch.no_grad():
            # PyTorch orders the gates input, forget, cell, output.
            self.lstm.bias_ih_l0[self.output_size : 2 * self.output_size].fill_(FORGET_BIAS)

    def forward(
        self, features: torch.Tensor, memories: torch.Tensor, sequence_length: int = 1
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the LSTM over sequences.

        Args:
            features: ``[n_sequences * sequence_length, input_size]``, sequence-major.
            memories: ``[n_sequences, memory_size]`` memory before each sequence's first step.
            sequence_length: steps per sequence.

        Returns:
            ``(outputs, memories)``: features ``[n_sequences * sequence_length, output_size]``
            and the memory after each sequence's last step ``[n_sequences, memory_size]``.
        """
        half = self.output_size
        steps = features.reshape(-1, sequence_length, features.shape[1])
        # [1, n, half]: one layer. Slicing with explicit bounds (not -1) keeps the graph valid
        # at ONNX opset 9.
        hidden = memories[:, :half].unsqueeze(0).contiguous()
        cell = memories[:, half : self.memory_size].unsqueeze(0).contiguous()
        outputs, (hidden, cell) = self.lstm(steps, (hidden, cell))
        return outputs.reshape(-1, half), torch.cat([hidden[0], cell[0]], dim=1)
