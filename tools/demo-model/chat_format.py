"""DeepSeek-V3.2 chat-mode rendering of training conversations, with the loss mask.

Matches encoding_dsv32.py's `encode_messages(messages, "chat")` (shared/fixtures/chat, case
system_multi_turn_chat): BOS, the system text, then for every turn
`<｜User｜>{q}<｜Assistant｜></think>{a}<｜end▁of▁sentence｜>`. In chat mode `</think>` belongs to the prompt
(it closes the empty thinking block), so only the answer text and its EOS are trained.
"""

from __future__ import annotations

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
PAD = "<｜▁pad▁｜>"
USER = "<｜User｜>"
ASSISTANT = "<｜Assistant｜>"
THINK_START = "<think>"
THINK_END = "</think>"


def render_segments(system: str, turns: list[tuple[str, str]]) -> list[tuple[str, bool]]:
    """The conversation as ordered (text, trained) segments whose concatenation is the rendered string.

    `trained` is True for the assistant's answer text and its EOS: the positions whose tokens the model must
    learn to predict. Everything else (BOS, system, user turns, the `<｜Assistant｜></think>` prefix) is False.
    """
    segments: list[tuple[str, bool]] = [(BOS + system, False)]
    for question, answer in turns:
        segments.append((f"{USER}{question}{ASSISTANT}{THINK_END}", False))
        segments.append((answer, True))
        segments.append((EOS, True))
    return segments


def render(system: str, turns: list[tuple[str, str]]) -> str:
    """The rendered conversation string (what encode_messages returns plus each answer and EOS)."""
    return "".join(text for text, _ in render_segments(system, turns))
