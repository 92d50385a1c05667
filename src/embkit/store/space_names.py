"""Which stored space a name means. `reembed` builds a new space (`text_v2`) beside the
old one (`text`) and then switches the alias `text` → `text_v2`: users keep searching
`text`. A space still being built is not searchable, and a superseded one is reached
through its successor."""


from ..errors import EmbkitError


def space_state(store) -> dict[str, dict]:
    """{"reembeds": {source: space being built}, "space_aliases": {name: space},
    "superseded": {old space: space that replaced it}}, as the store keeps them."""
    return store.space_state()


def resolve_space(store, spaces: dict, name: str | None, default: str) -> str:
    """The stored space `name` means (None: `default` when it exists, else the first
    live space); refuses an unknown name and a space a reembed is still building."""
    state = space_state(store)
    aliases, building = state["space_aliases"], state["reembeds"]
    if name is None:
        live = [s for s in spaces if s not in building.values() and s not in state["superseded"]]
        name = default if default in spaces or default in aliases else (live or list(spaces))[0]
    name = aliases.get(name, name)
    if name not in spaces and hasattr(store, "forget_spaces"):  # a cache (PostgreSQL): another process may
        store.forget_spaces()                                   # have added it; the caller's dict is refreshed
        spaces.update(store.spaces())
    if name in building.values():
        source = next(s for s, t in building.items() if t == name)
        raise EmbkitError(f"space: {name!r} is still being built by reembed from {source!r}; "
                          f"search {source!r} until it switches")
    if name not in spaces:
        known = [s for s in dict.fromkeys([*spaces, *aliases]) if s not in building.values()]
        raise EmbkitError(f"space: no space {name!r} in this collection (it has {', '.join(known)})")
    return name


def successor(store, space: str) -> str | None:
    """The space that replaced `space` (after a reembed switched), or None."""
    return space_state(store)["superseded"].get(space)
