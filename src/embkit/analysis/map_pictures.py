"""Pictures on a map of images: each image point carries a small thumbnail (a data
URI, so the page stays one offline file), shown beside the pointer on hover."""

import base64
import io

MAX_PICTURES = 10_000  # beyond this a page grows past ~30 MB: points keep their text only
PICTURE_PX = 96

# plotly's post_script: {plot_id} is the figure's element
HOVER_SCRIPT = """
(function () {
  const box = document.getElementById('{plot_id}');
  const img = document.createElement('img');
  img.style.cssText = 'position:fixed;display:none;pointer-events:none;width:128px;border:1px solid #888;' +
    'background:#fff;z-index:1000;image-rendering:pixelated';
  img.dataset.testid = 'map-picture';
  document.body.appendChild(img);
  box.on('plotly_hover', function (e) {
    const point = e.points && e.points[0];
    if (!point || !point.customdata) return;
    img.src = point.customdata;
    // left of the pointer (plotly's label opens to its right); a hover made by script
    // (Plotly.Fx.hover) has no pointer: the plot's corner
    const at = e.event && e.event.clientX !== undefined ? e.event : box.getBoundingClientRect();
    const x = at.clientX !== undefined ? at.clientX : at.left + 160;
    const y = at.clientY !== undefined ? at.clientY : at.top;
    img.style.left = Math.max(4, x - 148) + 'px';
    img.style.top = (y + 16) + 'px';
    img.style.display = 'block';
  });
  box.on('plotly_unhover', function () { img.style.display = 'none'; });
})();
"""


def point_pictures(col, table) -> tuple[list[str | None] | None, list[str]]:
    """(a data URI or None per point, notes); None when no point is an image."""
    images = [i for i, meta in enumerate(table.metadatas) if meta.get("image")]
    if not images:
        return None, []
    if len(images) > MAX_PICTURES:
        return None, [f"{len(images):,} images: more than {MAX_PICTURES:,}, so the points show no pictures"]
    pictures: list[str | None] = [None] * len(table)
    for i in images:
        path = col.thumbnail(table.ids[i])
        if path is not None:
            pictures[i] = _data_uri(path)
    return pictures, []


def _data_uri(path) -> str:
    from PIL import Image

    with Image.open(path) as thumb:
        small = thumb.convert("RGB")
    small.thumbnail((PICTURE_PX, PICTURE_PX))
    out = io.BytesIO()
    small.save(out, format="WEBP", quality=70)
    return "data:image/webp;base64," + base64.b64encode(out.getvalue()).decode()
