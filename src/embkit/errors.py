"""The one error type users see (bad input or a state embkit refuses to work with),
and the one warning type."""


class EmbkitError(ValueError):
    """A clear, one-line message naming the field and the limit; nothing was changed."""


class EmbkitWarning(UserWarning):
    """Something worth knowing about a call that still ran, e.g. a filter naming a field
    no document has (its result is empty, not an error)."""
