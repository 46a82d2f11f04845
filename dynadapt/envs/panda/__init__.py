"""HyperCRL's Panda tasks on robosuite's Panda model (the ``robosuite`` extra).

``panda_pusher`` (:mod:`dynadapt.envs.panda.pusher`) and ``panda_door`` (:mod:`dynadapt.envs.panda.door`).
The modules import robosuite only when the first env is built, so the families (their batched reward
functions, parameters and sequences) can be read without it; :mod:`dynadapt.envs.registry` registers them
with Gymnasium only where robosuite is installed (``pip install 'dynadapt[robosuite]'``, tested pins in
``constraints-robosuite.txt``).
"""
