"""How a (prompt, response) becomes model input: the toy world's layout, or a tokenizer's chat template.

The toy layout is the one every model of a toy run sees: the policy's prompt `world.format_prompt(text)`
("Q: {text}\nA:"), then " " + response (+ eos where the trainer adds it). `toy_row` builds the TRL rows in it
for SFT's completions, the BT RM's and DPO's {"prompt", "chosen", "rejected"}; `Layout` decides per tokenizer
whether an RM reads the toy layout or its chat template (a hub RM), and builds rows and texts accordingly.
"""

from __future__ import annotations

import dataclasses
import enum

from workbench.data.formats import PreferencePair
from workbench.world.toy import format_prompt


def toy_row(prompt: str, chosen: str, rejected: str) -> dict:
    """A TRL preference row in the toy layout; `prompt` is the prompt's text (not yet formatted)."""
    return {"prompt": format_prompt(prompt), "chosen": " " + chosen, "rejected": " " + rejected}


class Layout(str, enum.Enum):
    """How a (prompt, response) pair is laid out for the BT RM."""

    CHAT = "chat"  # the tokenizer's chat template: conversational rows in training, the rendered template in scoring
    TOY = "toy"  # "Q: {prompt}\nA: {response}<eos>", the toy world's layout

    @classmethod
    def for_tokenizer(cls, tokenizer) -> Layout:
        return cls.CHAT if getattr(tokenizer, "chat_template", None) else cls.TOY

    def reward_row(self, pair: PreferencePair) -> dict:
        """A RewardTrainer row: {"prompt", "chosen", "rejected"}."""
        if self is Layout.CHAT:
            return {"prompt": [dict(m) for m in pair.prompt],
                    "chosen": [{"role": "assistant", "content": pair.chosen.strip()}],
                    "rejected": [{"role": "assistant", "content": pair.rejected.strip()}]}
        return toy_row(pair.prompt_text, pair.chosen.strip(), pair.rejected.strip())

    def reward_ids(self, tokenizer, pair: PreferencePair, response: str) -> list[int]:
        """The token ids RewardTrainer trains on for (pair's prompt, response), tokenized as TRL does."""
        row = self.reward_row(dataclasses.replace(pair, chosen=response))
        if self is Layout.CHAT:
            messages = row["prompt"] + row["chosen"]
            return tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]
        return tokenizer(text=row["prompt"] + row["chosen"] + tokenizer.eos_token)["input_ids"]

    def reward_text(self, tokenizer, pair: PreferencePair, response: str) -> str:
        """The same input as text, for scoring (tokenized without adding special tokens)."""
        return tokenizer.decode(self.reward_ids(tokenizer, pair, response))

    def text_for(self, tokenizer, prompt: str, response: str) -> str:
        """`reward_text` for a single-turn prompt given as plain text (the toy world's prompts in the loop)."""
        return self.reward_text(tokenizer, PreferencePair([{"role": "user", "content": prompt}], response, "", ""),
                                response.strip())

    def pm_row(self, pair: PreferencePair) -> dict:
        """A row for `preference.train_pm`: the context as plain text."""
        context = pair.prompt_text if self is Layout.CHAT else format_prompt(pair.prompt_text)
        return {"prompt": context, "chosen": pair.chosen.strip(), "rejected": pair.rejected.strip()}
