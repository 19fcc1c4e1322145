"""Template context for every page: the navigation of the area the page is in."""

from __future__ import annotations

PORTAL_NAV = [
    ("/portal/", "Projects"),
    ("/portal/exports/", "Exports"),
    ("/portal/api-keys/", "API keys"),
    ("/portal/webhooks/", "Webhooks"),
    ("/portal/team/", "Team"),
    ("/portal/billing/", "Invoices & usage"),
]
OPS_NAV = [
    ("/ops/", "Dashboards"),
    ("/ops/trends/", "Trends"),
    ("/ops/invoices/", "Invoices"),
    ("/admin/", "Admin console"),
]
WORK_NAV = [("/work/", "Work")]


def web_nav(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    path = request.path
    if path.startswith("/ops/"):
        items = OPS_NAV
    elif path.startswith("/work/"):
        items = WORK_NAV
    elif path.startswith("/portal/"):
        items = PORTAL_NAV
    else:
        items = []
    nav = []
    for url, label in items:
        current = path == url or (url not in ("/portal/", "/ops/", "/work/") and path.startswith(url))
        nav.append({"url": url, "label": label, "current": current})
    return {"web_nav": nav, "web_client": getattr(request, "web_client", None)}
