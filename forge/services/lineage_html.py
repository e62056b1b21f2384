"""The lineage page's HTML: Jinja templates with autoescape on, so a document path, a reason or a tag
value shows as text and never as markup. No scripts and no assets from anywhere: one inline style
sheet, plain forms and links (the page sends a Content-Security-Policy that allows nothing else)."""

from __future__ import annotations

from typing import Any

from jinja2 import DictLoader, Environment, StrictUndefined

BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }} · Forge lineage</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1d232a; }
header { background: #1d2b3a; color: #fff; padding: .6em 1.2em; display: flex; gap: 1.5em; align-items: center; }
header a { color: #fff; } header form { flex: 1; display: flex; gap: .4em; }
header input { flex: 1; max-width: 40em; }
main { padding: 1em 1.2em; } h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .4em 0; } th, td { border: 1px solid #d0d7de; padding: .25em .6em;
  text-align: left; vertical-align: top; } th { background: #f3f5f7; } td.n { text-align: right; }
td.uri { overflow-wrap: anywhere; } code, .id { font-family: ui-monospace, monospace; font-size: .92em; }
.id { white-space: nowrap; } .error { color: #a40e26; }
.kept { color: #116329; } .dropped { color: #9a6700; } .quarantined { color: #a40e26; } .dim { color: #57606a; }
nav.pages { margin: .6em 0; display: flex; gap: 1em; }
</style></head>
<body><header><a href="/"><strong>Forge lineage</strong></a>
<form action="/documents" method="get"><input name="q" placeholder="path, sha256 or doc_id" aria-label="document">
<button type="submit">Find document</button></form>
{% if links.mlflow %}<a class="mlflow" href="{{ links.mlflow }}/">MLflow UI</a>{% endif %}
{% if links.prefect %}<a class="prefect" href="{{ links.prefect }}/">Prefect UI</a>{% endif %}
</header><main>{% block main %}{% endblock %}</main></body></html>
"""

HOME = """{% extends "base" %}{% block main %}
<h1>Lineage</h1>
<form id="search" action="/documents" method="get">
<label for="q">A document by path, sha256 or doc_id:</label>
<input id="q" name="q" size="70" required> <button id="find" type="submit">Search</button></form>
<h2>Registered model versions</h2>
{% if not versions %}<p>None yet: <code>forge run</code> registers one.</p>{% else %}
<table id="versions"><tr><th>model version</th><th>made from</th><th>registered</th><th>MLflow</th></tr>
{% for v in versions %}<tr>
<td><a href="/models/{{ v.name|urlencode }}/{{ v.version }}">{{ v.name }} version {{ v.version }}</a></td>
<td>{{ v.origin }}</td><td>{{ v.created }}</td>
<td>{% if links.mlflow %}<a class="mlflow" href="{{ links.model_version(v.name, v.version) }}">model version</a>
{% endif %}</td></tr>
{% endfor %}</table>{% endif %}
{% endblock %}"""

DOCUMENT = """{% extends "base" %}{% block main %}
<h1>Document <code>{{ r.query }}</code></h1>
<p class="dim">matched by {{ r.matched_by }}</p>
<h2>Dataset versions it appears in</h2>
<table id="datasets"><tr><th>dataset</th><th>doc_id</th><th>source</th><th>status</th><th>stage</th><th>reason</th>
<th>detail</th></tr>
{% for a in r.datasets %}<tr><td class="id">{{ a.dataset_id }}</td><td class="id">{{ a.doc_id }}</td>
<td class="uri">{{ a.source_uri }}</td><td class="{{ a.status }}">{{ a.status }}</td><td>{{ a.stage or "" }}</td>
<td>{{ a.reason or "" }}</td><td class="uri">{% if a.get("duplicate_of") %}duplicate of
<a class="id" href="/documents?q={{ a.duplicate_of.doc_id|urlencode }}">{{ a.duplicate_of.doc_id }}</a>
{{ a.duplicate_of.source_uri or "" }}{% set similarity = a.duplicate_of.similarity %}
{% if similarity is not none %} (Jaccard {{ "%.3f"|format(similarity) }}){% endif %}
{% else %}{{ a.detail or "" }}{% endif %}</td></tr>
{% endfor %}</table>
<h2>Model versions it reached</h2>
{% if not r.model_versions %}<p id="none">None: no model version was trained on a dataset version that kept it.</p>
{% else %}<table id="models"><tr><th>model version</th><th>how</th><th>MLflow</th></tr>
{% for v in r.model_versions %}<tr>
<td><a href="/models/{{ v.name|urlencode }}/{{ v.version }}">{{ v.name }} version {{ v.version }}</a>
{% for a in v.aliases %} <span class="dim">@{{ a }}</span>{% endfor %}</td>
<td>{% if v.via %}fine-tuned from {{ v.via }}{% else %}trained on {{ v.dataset_id }}{% endif %}</td>
<td>{% if links.mlflow %}<a class="mlflow" href="{{ links.model_version(v.name, v.version) }}">model version</a>
{% endif %}</td></tr>{% endfor %}</table>{% endif %}
{% endblock %}"""

MODEL = """{% extends "base" %}{% block main %}{% set m = r.model %}
<h1>{{ m.name }} version {{ m.version }}{% for a in m.aliases %} <span class="dim">@{{ a }}</span>{% endfor %}</h1>
<p>{% if links.mlflow %}<a class="mlflow" id="mlflow-version" href="{{ links.model_version(m.name, m.version) }}">
model version in MLflow</a>{% if run %} · <a class="mlflow" id="mlflow-run"
href="{{ links.run(run.experiment_id, run.run_id) }}">its run</a>{% endif %}
{% if run and run.parent %} · <a class="mlflow" href="{{ links.run(run.experiment_id, run.parent) }}">
the pipeline run</a>{% endif %}{% endif %}
{% if links.prefect and m.tags.get("prefect_flow_run_id") %} · <a class="prefect" id="prefect-flow-run"
href="{{ links.flow_run(m.tags.prefect_flow_run_id) }}">Prefect flow run</a>{% endif %}</p>
<table id="tags">{% for key in ("forge_version", "git_commit", "validation_status", "prefect_flow_run_id") %}
{% if key in m.tags %}<tr><th>{{ key }}</th><td class="id">{{ m.tags[key] }}</td></tr>{% endif %}{% endfor %}
</table>
{% if r.get("parent") %}<p>Fine-tuned ({{ r.parent.method }}) from
<a href="/models/{{ r.parent.name|urlencode }}/{{ r.parent.version }}">
{{ r.parent.name }} version {{ r.parent.version }}</a>.
</p>{% endif %}
{% if r.get("base") %}
<h2>Base model {{ r.base.name }}{% if r.base.version %} version {{ r.base.version }}{% endif %}</h2>
<p>{{ r.base.architecture or "" }} {% if r.base.source %}from {{ r.base.source }}{% endif %};
files sha256 <span class="id">{{ r.base.files_digest or "not recorded" }}</span></p>
<table id="base-files"><tr><th>file</th><th>bytes</th><th>sha256</th></tr>{% for path, size, sha in r.base.files %}
<tr><td>{{ path }}</td><td class="n">{{ size }}</td><td class="id">{{ sha }}</td></tr>{% endfor %}</table>{% endif %}
{% if r.dataset %}{% set d = r.dataset %}
<h2>Dataset version</h2>
<table id="dataset">
<tr><th>dataset_id</th><td class="id">{{ d.dataset_id }}{% if d.get("kind") %} ({{ d.kind }}){% endif %}</td></tr>
<tr><th>folder</th><td>{{ d.path }}</td></tr>
<tr><th>sources</th><td>{% for s in d.sources %}{{ s }}<br>{% endfor %} ({{ d.files }} files)</td></tr>
<tr><th>created</th><td>{{ d.created_at }}</td></tr>
<tr><th>ledger sha256</th><td><span class="id">{{ d.ledger_digest }}</span>
{% if d.ledger_matches_tag %}<span id="ledger-check" class="kept">matches the model version's tag</span>
{% else %}<span id="ledger-check" class="error">DOES NOT match the model version's tag</span>{% endif %}
</td></tr></table>
<h2>Documents by status and reason</h2>
<table id="counts"><tr><th>status</th><th>stage</th><th>reason</th><th>documents</th></tr>
<tr><td>ingested</td><td></td><td></td><td class="n">{{ r.counts.ingested }}</td></tr>
<tr><td class="kept"><a href="?status=kept">kept</a></td><td></td><td></td><td class="n">{{ r.counts.kept }}</td></tr>
{% for where, reasons in r.counts.by_reason.items() %}{% set status, stage = where.split(".", 1) %}
{% for reason, n in reasons.items() %}<tr><td class="{{ status }}">{{ status }}</td><td>{{ stage }}</td>
<td><a href="?{{ {"status": status, "reason": reason}|urlencode }}">{{ reason }}</a></td><td class="n">{{ n }}</td></tr>
{% endfor %}{% endfor %}</table>
<h2>Validation gates</h2>
<table id="gates">{% for stage, v in r.validation.items() %}<tr><th>{{ stage }}</th>
<td>{% if v.success is none %}skipped{% elif v.success %}passed{% else %}<span class="error">FAILED</span>{% endif %}
{% if v.failed %}: {{ v.failed|join(", ") }}{% endif %}</td></tr>{% endfor %}</table>
<h2 id="documents-title">Documents</h2>
<form id="filter" method="get"><label>status <select name="status"><option value="">any</option>
{% for s in ("kept", "dropped", "quarantined") %}
<option{% if s == p.status %} selected{% endif %}>{{ s }}</option>{% endfor %}
</select></label> <label>reason <select name="reason"><option value="">any</option>
{% for s in p.reasons %}<option{% if s == p.reason %} selected{% endif %}>{{ s }}</option>{% endfor %}
</select></label> <button id="apply" type="submit">Filter</button></form>
<p id="showing">{{ p.total }} documents{% if p.status %} with status {{ p.status }}{% endif %}
{% if p.reason %} with reason {{ p.reason }}{% endif %}; page {{ p.page }} of {{ p.pages }}</p>
<table id="documents"><tr><th>doc_id</th><th>source</th><th>status</th><th>stage</th><th>reason</th><th>detail</th></tr>
{% for d in p.rows %}<tr><td><a class="id" href="/documents?q={{ d.doc_id|urlencode }}">{{ d.doc_id }}</a></td>
<td class="uri">{{ d.source_uri }}</td><td class="{{ d.status }}">{{ d.status }}</td><td>{{ d.stage or "" }}</td>
<td>{{ d.reason or "" }}</td><td class="uri">{% if d.detail and d.reason in duplicate_reasons %}duplicate of
<a class="id" href="/documents?q={{ d.detail|urlencode }}">{{ d.detail }}</a>{% else %}{{ d.detail or "" }}{% endif %}
</td></tr>{% endfor %}</table>
<nav class="pages">{% if p.page > 1 %}<a rel="prev" href="?{{ p.query(p.page - 1) }}">previous page</a>{% endif %}
{% if p.page < p.pages %}<a rel="next" href="?{{ p.query(p.page + 1) }}">next page</a>{% endif %}</nav>
{% endif %}{% endblock %}"""

ERROR = """{% extends "base" %}{% block main %}<h1>{{ title }}</h1><p class="error" id="error">{{ message }}</p>
{% endblock %}"""

_env = Environment(
    loader=DictLoader({"base": BASE, "home": HOME, "document": DOCUMENT, "model": MODEL, "error": ERROR}),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
)


def render(template: str, **context: Any) -> str:
    return _env.get_template(template).render(**context)
