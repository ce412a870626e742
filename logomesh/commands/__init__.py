"""The core of LogoMesh: the contract of the one door, which every other part imports and
which imports none of them.

- ``models``: requests in, results out, the spec a command is declared by, the handler's
  context and the confirmation port;
- ``registry``: one engine's commands, and the ``@command`` decorator that declares one;
- ``values``: who asks (``Actor``, ``Identity``, ``Source``), at what risk (``RiskLevel``),
  in which ``Mode``, how it ended (``Outcome``), and ``new_id``;
- ``feature``: what a feature package brings to an engine (``Feature``), and how its
  commands are collected from the modules that declare them.

With ``errors``, ``events``, ``canonical``, ``layout`` and ``lazy`` beside it, this is the
inner layer that ``tests/test_boundaries.py`` keeps free of features.
"""
