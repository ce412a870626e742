"""The chat layer every platform shares; a platform package only translates to and from it.

``message`` (who said what, where, how it arrived) -> ``dispatch.ChatBot`` (rate limit,
``identity``, the ``parse`` grammar, ``tracking`` of progress and approval cards, the
engine) -> ``results`` / ``help`` / ``approvals`` (replies in the ``render`` model) ->
``fitting`` (a platform's limits) -> the platform's ``conversation.Conversation``.
Nothing here imports a chat SDK (tests/bots/test_chat_boundaries.py).
"""
