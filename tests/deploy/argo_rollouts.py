"""Offline checks of Argo Rollouts objects, which the Kubernetes schemas do not know.

Two layers, both returning a list of problems (empty when the manifests are right):
- `schema_problems`: the object against the openAPIV3Schema of Argo's own CRD (vendored in
  argo_schemas/, see vendor.py), with unknown fields refused as the API server's strict field
  validation refuses them;
- `rollout_problems`: what Argo's controller checks only when it runs the objects, and what
  cinemesh relies on: a Rollout references a Deployment that exists and is held at 0 replicas,
  its canary steps are valid and every partial weight is judged, every analysis names an
  AnalysisTemplate that exists, the template's arguments are supplied and every
  `{{args.x}}` resolves, each metric is a Prometheus query with both a success and a failure
  condition, and the query selects the canary's pods by their pod-template hash.

`evaluate` runs a metric condition the way Argo does (expr-lang, `result` the query's vector),
for the small subset of the language the templates use.
"""

from __future__ import annotations

import json
import math
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SCHEMAS = Path(__file__).parent / "argo_schemas"
API_VERSION = "argoproj.io/v1alpha1"
SCHEMA_FILES = {"Rollout": "rollout.json", "AnalysisTemplate": "analysistemplate.json"}
KINDS = frozenset(SCHEMA_FILES)
STEP_KINDS = frozenset(
    {
        "setWeight",
        "pause",
        "analysis",
        "experiment",
        "setCanaryScale",
        "setHeaderRoute",
        "setMirrorRoute",
        "plugin",
    }
)
PROVIDERS = frozenset(
    {
        "prometheus",
        "job",
        "web",
        "wavefront",
        "kayenta",
        "datadog",
        "newRelic",
        "cloudWatch",
        "graphite",
        "influxdb",
        "skywalking",
        "plugin",
    }
)
SCALE_DOWN = frozenset({"never", "onsuccess", "progressively"})
POD_HASH = frozenset({"Stable", "Latest"})
DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$")
TAG = re.compile(r"\{\{(.*?)\}\}")
HASH_SELECTOR = re.compile(r'rollouts_pod_template_hash\s*=\s*"\{\{\s*args\.([\w-]+)\s*\}\}"')


def _strict(schema: Any) -> Any:
    """The CRD schema with unknown fields refused wherever the CRD does not preserve them."""
    if isinstance(schema, dict):
        out = {key: _strict(value) for key, value in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


@cache
def validator(kind: str) -> jsonschema.Draft7Validator:
    vendored = json.loads((SCHEMAS / SCHEMA_FILES[kind]).read_text())
    return jsonschema.Draft7Validator(_strict(vendored["schema"]))


def schema_problems(doc: dict[str, Any]) -> list[str]:
    kind = doc.get("kind")
    if kind not in KINDS:
        return [f"{kind}: no vendored Argo Rollouts schema for this kind"]
    where = f"{kind}/{doc.get('metadata', {}).get('name')}"
    problems = []
    if doc.get("apiVersion") != API_VERSION:
        problems.append(f"{where}: apiVersion must be {API_VERSION}")
    if not doc.get("metadata", {}).get("name"):
        problems.append(f"{where}: metadata.name is missing")
    for error in validator(kind).iter_errors(doc):
        path = ".".join(str(p) for p in error.absolute_path) or "(root)"
        problems.append(f"{where}: {path}: {error.message}")
    return problems


def _key(doc: dict[str, Any]) -> tuple[str, str]:
    return doc["metadata"].get("namespace", ""), doc["metadata"]["name"]


def _index(docs: list[dict[str, Any]], kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {_key(d): d for d in docs if d.get("kind") == kind}


def _duration_ok(value: Any) -> bool:
    if isinstance(value, int):
        return value > 0
    return isinstance(value, str) and bool(DURATION.match(value))


def _int_or_percent_is_zero(value: Any) -> bool:
    return value in (0, "0", "0%")


def rollout_problems(docs: list[dict[str, Any]]) -> list[str]:
    """Everything wrong with the Rollouts and AnalysisTemplates among `docs`, together."""
    problems = [p for d in docs if d.get("kind") in KINDS for p in schema_problems(d)]
    deployments = _index(docs, "Deployment")
    templates = _index(docs, "AnalysisTemplate")
    for template in templates.values():
        problems += template_problems(template)
    for key, rollout in _index(docs, "Rollout").items():
        problems += _rollout_problems(key, rollout, deployments, templates)
    problems += _autoscaler_problems(docs)
    return problems


def _rollout_problems(
    key: tuple[str, str],
    rollout: dict[str, Any],
    deployments: dict[tuple[str, str], dict[str, Any]],
    templates: dict[tuple[str, str], dict[str, Any]],
) -> list[str]:
    namespace, name = key
    where = f"Rollout/{name}"
    spec = rollout.get("spec", {})
    problems = []
    if not spec.get("replicas"):
        problems.append(f"{where}: spec.replicas must be set and above 0")
    if not spec.get("selector"):
        problems.append(f"{where}: spec.selector is missing")
    ref = spec.get("workloadRef")
    if "template" in spec or not ref:
        problems.append(
            f"{where}: must take its pod template from a Deployment (workloadRef), "
            "not carry one inline"
        )
    else:
        if ref.get("apiVersion") != "apps/v1" or ref.get("kind") != "Deployment":
            problems.append(f"{where}: workloadRef must point to an apps/v1 Deployment")
        if ref.get("scaleDown", "never") not in SCALE_DOWN:
            problems.append(f"{where}: workloadRef.scaleDown must be one of {sorted(SCALE_DOWN)}")
        deployment = deployments.get((namespace, ref.get("name", "")))
        if deployment is None:
            problems.append(f"{where}: workloadRef names Deployment {ref.get('name')!r}, not found")
        else:
            dspec = deployment["spec"]
            if dspec.get("replicas") != 0:
                problems.append(
                    f"{where}: Deployment/{ref['name']} must have replicas: 0 "
                    "(the Rollout runs the pods; otherwise both would)"
                )
            if dspec.get("selector") != spec.get("selector"):
                problems.append(f"{where}: selector differs from Deployment/{ref['name']}'s")
            pod_labels = dspec.get("template", {}).get("metadata", {}).get("labels", {})
            wanted = spec.get("selector", {}).get("matchLabels", {})
            if any(pod_labels.get(k) != v for k, v in wanted.items()):
                problems.append(f"{where}: selector does not match the Deployment's pod labels")
    strategy = spec.get("strategy", {})
    if set(strategy) != {"canary"}:
        problems.append(f"{where}: strategy must be exactly one, a canary")
        return problems
    problems += _canary_problems(where, namespace, strategy["canary"], templates)
    return problems


def _canary_problems(
    where: str,
    namespace: str,
    canary: dict[str, Any],
    templates: dict[tuple[str, str], dict[str, Any]],
) -> list[str]:
    problems = []
    surge, unavailable = canary.get("maxSurge", "25%"), canary.get("maxUnavailable", "25%")
    if not _int_or_percent_is_zero(unavailable):
        problems.append(f"{where}: canary.maxUnavailable must be 0 (no capacity lost)")
    if _int_or_percent_is_zero(surge):
        problems.append(f"{where}: canary.maxSurge must be above 0 with maxUnavailable 0")
    steps = canary.get("steps") or []
    if not steps:
        problems.append(f"{where}: canary.steps is empty")
    last_weight, judged = 0, True
    analyses = 0
    for i, step in enumerate(steps):
        at = f"{where}: steps[{i}]"
        kinds = set(step) & STEP_KINDS
        if len(kinds) != 1 or set(step) - STEP_KINDS:
            problems.append(f"{at}: a step has exactly one of {sorted(STEP_KINDS)}")
            continue
        (kind,) = kinds
        if kind == "setWeight":
            weight = step["setWeight"]
            if not isinstance(weight, int) or not 0 <= weight <= 100:
                problems.append(f"{at}: setWeight must be between 0 and 100")
                continue
            if weight <= last_weight:
                problems.append(f"{at}: setWeight must rise (after {last_weight})")
            if not judged:
                problems.append(f"{at}: weight {last_weight} was never judged by an analysis step")
            last_weight, judged = weight, weight == 100
        elif kind == "pause":
            duration = step["pause"].get("duration")
            if duration is not None and not _duration_ok(duration):
                problems.append(f"{at}: pause.duration must be a positive duration")
        elif kind == "analysis":
            analyses += 1
            judged = True
            problems += _analysis_step_problems(at, namespace, step["analysis"], templates)
        elif kind in {"setCanaryScale", "setHeaderRoute", "setMirrorRoute"}:
            if not canary.get("trafficRouting"):
                problems.append(f"{at}: {kind} needs trafficRouting")
    if steps and not judged:
        problems.append(f"{where}: weight {last_weight} is never judged before the end")
    if steps and analyses == 0:
        problems.append(f"{where}: no analysis step: nothing judges the canary")
    return problems


def _analysis_step_problems(
    at: str,
    namespace: str,
    analysis: dict[str, Any],
    templates: dict[tuple[str, str], dict[str, Any]],
) -> list[str]:
    problems = []
    refs = analysis.get("templates") or []
    if not refs:
        problems.append(f"{at}: analysis names no template")
    declared: dict[str, dict[str, Any]] = {}
    found = []
    for ref in refs:
        name = ref.get("templateName", "")
        if ref.get("clusterScope"):
            problems.append(f"{at}: ClusterAnalysisTemplate {name!r} is not in the manifests")
            continue
        template = templates.get((namespace, name))
        if template is None:
            problems.append(f"{at}: no AnalysisTemplate {name!r} in namespace {namespace!r}")
            continue
        found.append(template)
        for arg in template["spec"].get("args", []):
            declared.setdefault(arg["name"], arg)
    supplied = {arg["name"]: arg for arg in analysis.get("args", [])}
    for name, arg in supplied.items():
        source = arg.get("valueFrom")
        if ("value" in arg) == bool(source):
            problems.append(f"{at}: arg {name!r} needs exactly one of value or valueFrom")
        if source and "podTemplateHashValue" in source:
            if source["podTemplateHashValue"] not in POD_HASH:
                problems.append(f"{at}: arg {name!r}: podTemplateHashValue is Stable or Latest")
        if found and name not in declared:
            problems.append(f"{at}: arg {name!r} is supplied but no template declares it")
    for name, arg in declared.items():
        if "value" not in arg and "valueFrom" not in arg and name not in supplied:
            problems.append(f"{at}: template arg {name!r} is not supplied (args.{name})")
    for template in found:
        for metric in template["spec"].get("metrics", []):
            query = metric.get("provider", {}).get("prometheus", {}).get("query", "")
            hashes = HASH_SELECTOR.findall(query)
            canary = [
                h
                for h in hashes
                if supplied.get(h, {}).get("valueFrom", {}).get("podTemplateHashValue") == "Latest"
            ]
            if not canary:
                problems.append(
                    f"{at}: metric {metric.get('name')!r} does not select the canary's pods "
                    '(rollouts_pod_template_hash="{{args.X}}" with X from '
                    "podTemplateHashValue: Latest)"
                )
    return problems


def _autoscaler_problems(docs: list[dict[str, Any]]) -> list[str]:
    """An autoscaler scales what runs the pods: the Rollout, never its Deployment at 0."""
    rollouts = _index(docs, "Rollout")
    held = {
        (namespace, rollout["spec"].get("workloadRef", {}).get("name"))
        for (namespace, _), rollout in rollouts.items()
    }
    problems = []
    for (namespace, name), hpa in _index(docs, "HorizontalPodAutoscaler").items():
        target = hpa["spec"]["scaleTargetRef"]
        where = f"HorizontalPodAutoscaler/{name}"
        if target.get("kind") == "Deployment" and (namespace, target.get("name")) in held:
            problems.append(
                f"{where}: scales Deployment/{target['name']}, whose pods its Rollout runs"
            )
        if target.get("kind") == "Rollout":
            if target.get("apiVersion") != API_VERSION:
                problems.append(f"{where}: a Rollout target has apiVersion {API_VERSION}")
            if (namespace, target.get("name")) not in rollouts:
                problems.append(f"{where}: no Rollout {target.get('name')!r} to scale")
    return problems


def template_problems(template: dict[str, Any]) -> list[str]:
    """Argo's own metric validation (utils/analysis ValidateMetric) and cinemesh's rules."""
    where = f"AnalysisTemplate/{template['metadata']['name']}"
    spec = template.get("spec", {})
    args = [arg.get("name") for arg in spec.get("args", [])]
    problems = []
    if len(set(args)) != len(args):
        problems.append(f"{where}: duplicate arg names")
    metrics = spec.get("metrics") or []
    if not metrics:
        problems.append(f"{where}: no metrics")
    names = [m.get("name") for m in metrics]
    if len(set(names)) != len(names):
        problems.append(f"{where}: duplicate metric names")
    for metric in metrics:
        at = f"{where}: metric {metric.get('name')!r}"
        count = metric.get("count", 0)
        failure_limit = metric.get("failureLimit", 0)
        success_limit = metric.get("consecutiveSuccessLimit", 0)
        if count and count < failure_limit + success_limit:
            problems.append(f"{at}: count must be >= failureLimit + consecutiveSuccessLimit")
        if count and count < metric.get("inconclusiveLimit", 0):
            problems.append(f"{at}: count must be >= inconclusiveLimit")
        if count > 1 and not metric.get("interval"):
            problems.append(f"{at}: interval must be set when count > 1")
        for field in ("interval", "initialDelay"):
            if field in metric and not _duration_ok(metric[field]):
                problems.append(f"{at}: {field} is not a duration")
        providers = set(metric.get("provider", {})) & PROVIDERS
        if providers != {"prometheus"}:
            problems.append(f"{at}: exactly one provider, prometheus (found {sorted(providers)})")
        prometheus = metric.get("provider", {}).get("prometheus", {})
        for field in ("address", "query"):
            if not prometheus.get(field):
                problems.append(f"{at}: provider.prometheus.{field} is missing")
        for field in ("successCondition", "failureCondition"):
            if not metric.get(field):
                problems.append(
                    f"{at}: {field} is missing (both are set, so no data is inconclusive)"
                )
        for tag in TAG.findall(json.dumps(metric)):
            name = tag.strip()
            if not name.startswith("args.") or name.removeprefix("args.") not in args:
                problems.append(f"{at}: {{{{{tag}}}}} does not resolve to a declared arg")
        if not _balanced(prometheus.get("query", "")):
            problems.append(f"{at}: the query's brackets do not balance")
    return problems


def _balanced(text: str) -> bool:
    pairs, stack = {")": "(", "]": "[", "}": "{"}, []
    for char in re.sub(r'"(\\.|[^"\\])*"', '""', text):
        if char in "([{":
            stack.append(char)
        elif char in pairs and (not stack or stack.pop() != pairs[char]):
            return False
    return not stack


def resolve(text: str, values: dict[str, str]) -> str:
    """`{{args.x}}` replaced as Argo does; a tag it cannot resolve is an error."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1).strip().removeprefix("args.")
        if name not in values:
            raise KeyError(f"failed to resolve {{{{{match.group(1)}}}}}")
        return values[name]

    return TAG.sub(one, text)


EXPR_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|(?P<name>[A-Za-z_]\w*)"
    r"|(?P<op>&&|\|\||<=|>=|==|!=|<|>|!|\(|\)|\[|\]|,|\+|-|\*|/))"
)
EXPR_NAMES = {"result", "len", "isNaN", "isInf", "true", "false", "and", "or", "not"}


def evaluate(condition: str, result: list[float]) -> bool:
    """An Argo metric condition over a Prometheus vector, for the expr subset used here."""
    python, position = [], 0
    while position < len(condition):
        token = EXPR_TOKEN.match(condition, position)
        if token is None or token.end() == position:
            raise ValueError(f"cannot read {condition[position:]!r} in {condition!r}")
        position = token.end()
        if token["num"]:
            python.append(token["num"])
        elif token["name"]:
            if token["name"] not in EXPR_NAMES:
                raise ValueError(f"{token['name']!r} is outside the supported expr subset")
            python.append(
                {"true": "True", "false": "False", "isNaN": "_isnan", "isInf": "_isinf"}.get(
                    token["name"], token["name"]
                )
            )
        else:
            python.append({"&&": " and ", "||": " or ", "!": " not "}.get(token["op"], token["op"]))
    names = {"result": list(result), "len": len, "_isnan": math.isnan, "_isinf": math.isinf}
    value = eval(" ".join(python), {"__builtins__": {}}, names)
    if not isinstance(value, bool):
        raise ValueError(f"{condition!r} is not a boolean")
    return value


def measure(metric: dict[str, Any], values: dict[str, str], result: list[float]) -> str:
    """What one measurement of `metric` becomes: Successful, Failed, Inconclusive or Error."""
    try:
        success = evaluate(resolve(metric["successCondition"], values), result)
        failure = evaluate(resolve(metric["failureCondition"], values), result)
    except (IndexError, KeyError, ValueError):
        return "Error"
    if failure:
        return "Failed"
    return "Successful" if success else "Inconclusive"
