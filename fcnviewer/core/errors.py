"""The one base class of the errors a user can act on (torch-free, so the window can catch it).

Its message is one sentence in the user's words: what the file or choice is, what was expected,
what to do. Anything else that escapes is a bug and is reported as such, with where it happened.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input (a file, a choice); ``str()`` is the whole message."""
