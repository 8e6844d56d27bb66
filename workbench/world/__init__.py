"""The toy preference world: prompt families and their gold utility (toy.py), the simulated annotator
(annotator.py), the reward data's labellers in the roles of the paper's preference sources (judges.py), the
responses the world writes itself (demonstrations.py) or changes the way answers go wrong (perturbations.py), and
what it knows as plain sentences for pretraining a base model (knowledge.py)."""
