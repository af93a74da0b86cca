"""The console's Versions pages: every version, one version (SHAP, slices, lineage, gate), two compared.

Pages come from templates with the console's layout; plots are inline (data: URIs) and the
comparison is drawn as server-side SVG, so a browser fetches nothing but this service's stylesheet.
"""

from __future__ import annotations

from typing import Annotated

from litestar import MediaType, Response, Router, get
from litestar.params import PathParameter, QueryParameter

from driftgate.pages.charts import bar_chart, paired_bar_chart
from driftgate.serving.console import html_page, not_found, report_file
from driftgate.serving.service import ServiceDep


@get("/reports", sync_to_thread=True)
def reports_index(svc: ServiceDep) -> Response[str]:
    """Every registered version with its test metric, trigger and gate; the champion marked."""
    versions = svc.console.versions
    rows = versions.index()
    newest = [r["version"] for r in rows if r.get("explained")][:2][::-1]  # compare needs explanations
    return html_page(
        "console/versions.html",
        "/reports",
        title=f"{svc.store.name}: model versions",
        rows=rows,
        metric=versions.metric,
        newest=newest,
    )


@get("/reports/compare", sync_to_thread=True)
def reports_compare(
    svc: ServiceDep,
    a: Annotated[str, QueryParameter(description="First version")],
    b: Annotated[str, QueryParameter(description="Second version")],
) -> Response[str]:
    """Two versions' mean |SHAP| importance side by side and the change drawn: how the reasoning moved."""
    name, versions = svc.store.name, svc.console.versions
    views = {v: versions.version(v) for v in (a, b)}
    missing = [v for v, view in views.items() if view is None]
    if missing:
        return not_found(f"model {name} has no version {missing[0]}")
    ia, ib = views[a]["importance"], views[b]["importance"]  # type: ignore[index]
    unexplained = [v for v, imp in ((a, ia), (b, ib)) if imp is None]
    if ia is None or ib is None:
        why = {v: views[v].get("refused") for v in unexplained}  # type: ignore[union-attr]
        return not_found(
            "; ".join(
                f"version {v} has no logged explanation"
                + (f" (the safe loader refused it: {why[v]})" if why[v] else "")
                for v in unexplained
            )
        )
    features = sorted(set(ia) | set(ib), key=lambda f: -max(ia.get(f, 0.0), ib.get(f, 0.0)))
    rows = [(f, float(ia.get(f, 0.0)), float(ib.get(f, 0.0))) for f in features]
    change = sorted(((f, vb - va) for f, va, vb in rows), key=lambda t: -abs(t[1]))
    side = paired_bar_chart(rows, (f"version {a}", f"version {b}"), x_title="mean |SHAP value| (model output units)")
    moved = bar_chart(change, x_title=f"change of mean |SHAP value|, version {b} minus {a}", signed_values=True)
    return html_page(
        "console/compare.html",
        "/reports",
        title=f"{name}: version {a} vs {b} (mean |SHAP|)",
        a=a,
        b=b,
        rows=rows,
        side=side,
        change=moved,
        views=views,
        versions=[r["version"] for r in versions.index()],
    )


@get("/reports/{version:str}", sync_to_thread=True)
def report_version(svc: ServiceDep, version: Annotated[str, PathParameter()]) -> Response[str]:
    """One version: metrics, gate, trigger, SHAP plots, importance, slices, the batches that trained it."""
    versions = svc.console.versions
    view = versions.version(version)
    if view is None:
        return not_found(f"model {svc.store.name} has no version {version}")
    champ = versions.champion()
    importance = view.get("importance")
    title = "mean |SHAP value| (model output units)"
    chart = bar_chart(list(importance.items()), x_title=title) if importance else None
    return html_page(
        "console/version.html",
        "/reports",
        title=f"{svc.store.name} version {version}",
        v=view,
        is_champion=champ is not None and champ["version"] == view["version"],
        metric=versions.metric,
        importance_chart=chart,
    )


@get("/reports/{version:str}/explanation", sync_to_thread=True)
def report_logged(svc: ServiceDep, version: Annotated[str, PathParameter()]) -> Response[str]:
    """The explanation page exactly as logged to MLflow at training (standalone file)."""
    text = svc.console.versions.logged_report(version)
    if text is None:
        return not_found(f"version {version} has no logged explanation (yet)")
    return report_file(text, MediaType.HTML)


def report_routes() -> Router:
    """The Versions pages."""
    return Router(path="/", route_handlers=[reports_index, reports_compare, report_version, report_logged])
