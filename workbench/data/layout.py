"""How a (prompt, response) becomes model input: the toy world's layout, or a tokenizer's chat template.

The toy layout is the one every model of a toy run sees: the policy's prompt `world.format_prompt(text)`
("Q: {text}\nA:"), then " " + response (+ eos where the trainer adds it). `toy_row` builds the TRL rows in it
for SFT's completions, the BT RM's and DPO's {"prompt", "chosen", "rejected"}; `Layout` decides per tokenizer
whether an RM reads the toy layout or its chat template (a hub RM), and builds rows and texts accordingly.
"""

from __future__ import annotations

import dataclasses
import enum
import functools

from workbench.data.formats import PreferencePair
from workbench.world.toy import format_prompt, unformat_prompt


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

    def convert(self, row: dict) -> dict:
        """A `toy_row` laid out this way (a row whose prompt is already a conversation is returned as it is)."""
        if self is Layout.TOY or not isinstance(row["prompt"], str):
            return row
        pair = PreferencePair([{"role": "user", "content": unformat_prompt(row["prompt"])}], row["chosen"],
                              row["rejected"], "")
        return self.reward_row(pair)

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


@dataclasses.dataclass(frozen=True)
class PolicyFormat:
    """How the policy reads a prompt and ends its answer: the toy layout, or π0's chat template.

    A policy whose tokenizer has a chat template (an instruct model as π0: `model.pretrained`, e.g.
    smollm2-135m-instruct) sees each prompt as a user turn rendered with the generation prompt
    ("<|im_start|>user\\n{text}<|im_end|>\\n<|im_start|>assistant\\n" for SmolLM2), answers without a leading space,
    and stops at the template's end-of-turn token; DPO trains on conversational rows, which TRL renders through the
    same template. The toy policy keeps "Q: {text}\\nA:" + " " + response + eos. The run's own BT RM, trained from
    π0, reads π0's template too (Layout.CHAT, recorded in its folder); the PM reads the toy layout whatever π0's
    template, and a `reward.pretrained` RM reads its own."""

    chat: bool
    tokenizer: object = dataclasses.field(repr=False, compare=False)

    @classmethod
    def of(cls, tokenizer) -> PolicyFormat:
        return cls(bool(getattr(tokenizer, "chat_template", None)), tokenizer)

    def prompt(self, text: str) -> str:
        """The text the policy is prompted with (special tokens included, as the template renders them)."""
        if not self.chat:
            return format_prompt(text)
        return self.tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                                  tokenize=False)

    @property
    def add_special_tokens(self) -> bool:
        """Whether encoding a prompt adds the tokenizer's own specials (a rendered template already holds them)."""
        return not self.chat

    @functools.cached_property
    def stop_ids(self) -> list[int]:
        """Token ids that end an answer: eos, and the template's end-of-turn token when it differs (Llama-3's
        <|eot_id|>; for SmolLM2 both are <|im_end|>)."""
        ids = [self.tokenizer.eos_token_id]
        if self.chat:
            turn = self.tokenizer.apply_chat_template(
                [{"role": "user", "content": "x"}, {"role": "assistant", "content": "END"}], tokenize=False)
            after = turn[turn.rindex("END") + 3 :]
            first = self.tokenizer(after, add_special_tokens=False)["input_ids"][:1]
            if first and first[0] in self.tokenizer.all_special_ids and first[0] not in ids:
                ids += first
        return ids

    def response_ids(self, response: str) -> list[int]:
        """The tokens of an answer as the policy writes it after `prompt(...)`, closed by its stop token."""
        text = response if self.chat else " " + response
        return self.tokenizer(text, add_special_tokens=False)["input_ids"] + [self.stop_ids[-1]]

    def row(self, text: str, chosen: str, rejected: str) -> dict:
        """A DPO row for the prompt's text: toy_row, or conversational (TRL applies the chat template)."""
        if not self.chat:
            return toy_row(text, chosen, rejected)
        return {"prompt": [{"role": "user", "content": text}],
                "chosen": [{"role": "assistant", "content": chosen.strip()}],
                "rejected": [{"role": "assistant", "content": rejected.strip()}]}
