"""The one error type users see: bad input or a state embkit refuses to work with."""


class EmbkitError(ValueError):
    """A clear, one-line message naming the field and the limit; nothing was changed."""
