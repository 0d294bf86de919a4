"""The books service: durable book generation you submit, poll and download.

``POST /books`` starts a ``books.generate`` job (an outline step, one step per chapter, an
assemble step); ``GET /books/{id}`` shows its progress and, once done, the book;
``GET /books/{id}/download?format=md|txt|epub`` returns the file. Text comes from a provider
chosen by ``settings.books``: ``offline`` (default, no network) or any OpenAI-compatible API.
"""
