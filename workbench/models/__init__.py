"""The models: the language model and its tokenizer (lm.py), the base model pretrained on the world's knowledge
(pretrain.py), SFT (sft.py), the Bradley-Terry reward model (reward.py) and the pairwise preference model
(preference.py); GGUF checkpoints imported as plain model folders (gguf.py)."""
