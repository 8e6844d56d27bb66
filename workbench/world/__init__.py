"""The toy preference world: prompt families and their gold utility (toy.py), the simulated annotator
(annotator.py), and the responses the world writes itself (demonstrations.py)."""
