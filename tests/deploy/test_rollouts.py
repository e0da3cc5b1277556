"""The Argo Rollouts canary of gateway, playback and recommender, checked offline: the rendered
Rollouts and AnalysisTemplate hold together (argo_rollouts.rollout_problems), the analysis
reads the services' own metrics and judges them with the thresholds it claims, and each kind
of mistake the checks exist for is caught."""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest

from tests.deploy import argo_rollouts
from tests.deploy.test_manifests import CANARIED, OVERLAYS, of_kind, render

Docs = list[dict[str, Any]]


@cache
def rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    return tuple(render(overlay))


def docs_of(overlay: str) -> Docs:
    return copy.deepcopy(list(rendered(overlay)))


def find(docs: Docs, kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def analysis_steps(rollout: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s["analysis"] for s in rollout["spec"]["strategy"]["canary"]["steps"] if "analysis" in s
    ]


def step_values(rollout: dict[str, Any], template: dict[str, Any]) -> dict[str, str]:
    """The args one analysis run of `rollout` resolves, with a made-up canary hash."""
    values = {a["name"]: a["value"] for a in template["spec"]["args"] if "value" in a}
    for arg in analysis_steps(rollout)[0]["args"]:
        values[arg["name"]] = arg.get("value", "6d4f8b9c7")
    return values


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rollouts_and_analysis_hold_together(overlay: str) -> None:
    docs = docs_of(overlay)
    assert argo_rollouts.rollout_problems(docs) == []
    assert set(of_kind(docs, "Rollout")) == CANARIED
    for name in CANARIED:
        rollout = find(docs, "Rollout", name)
        canary = rollout["spec"]["strategy"]["canary"]
        weights = [s["setWeight"] for s in canary["steps"] if "setWeight" in s]
        assert weights[0] <= 25 and weights[-1] == 100, "a small share first, all at the end"
        assert len(analysis_steps(rollout)) >= 2
        assert rollout["spec"]["progressDeadlineAbort"] is True, "pods never ready: roll back"


def test_analysis_reads_the_services_own_metrics() -> None:
    docs = docs_of("prod")
    template = find(docs, "AnalysisTemplate", "cinemesh-canary")
    metrics = {m["name"]: m for m in template["spec"]["metrics"]}
    errors = metrics["error-ratio"]["provider"]["prometheus"]["query"]
    assert errors.count("cinemesh_http_requests_total{") == 2
    assert 'status=~"5.."' in errors and "/" in errors
    latency = metrics["p99-latency"]["provider"]["prometheus"]["query"]
    assert latency.startswith("histogram_quantile(0.99,")
    assert "cinemesh_http_request_duration_seconds_bucket{" in latency
    assert "by (le)" in latency
    for name in CANARIED:
        rollout = find(docs, "Rollout", name)
        values = step_values(rollout, template)
        assert values["service"] == name
        for metric in metrics.values():  # everything resolves, nothing is left templated
            resolved = argo_rollouts.resolve(metric["provider"]["prometheus"]["query"], values)
            assert f'service="{name}"' in resolved
            assert 'rollouts_pod_template_hash="6d4f8b9c7"' in resolved
            assert "{{" not in resolved


@pytest.mark.parametrize("name", sorted(CANARIED))
def test_the_conditions_judge_as_documented(name: str) -> None:
    docs = docs_of("prod")
    template = find(docs, "AnalysisTemplate", "cinemesh-canary")
    metrics = {m["name"]: m for m in template["spec"]["metrics"]}
    values = step_values(find(docs, "Rollout", name), template)
    p99_max = float(values["p99-max-s"])
    assert 0.1 <= p99_max <= 1.0
    assert float(values["error-ratio-max"]) == 0.02

    def judge(metric: str, result: list[float]) -> str:
        return argo_rollouts.measure(metrics[metric], values, result)

    assert judge("error-ratio", [0.0]) == "Successful"
    assert judge("error-ratio", [0.019]) == "Successful"
    assert judge("error-ratio", [0.021]) == "Failed"
    assert judge("error-ratio", [0.2]) == "Failed"  # a release failing 20% of calls
    assert judge("error-ratio", []) == "Inconclusive"  # no traffic yet: pause, not pass
    assert judge("error-ratio", [float("nan")]) == "Inconclusive"
    assert judge("p99-latency", [p99_max / 2]) == "Successful"
    assert judge("p99-latency", [p99_max + 0.001]) == "Failed"
    # +300 ms on every request lands in the (0.25, 0.5] bucket: p99 reads about 0.4975 s
    assert judge("p99-latency", [0.4975]) == "Failed"
    assert judge("p99-latency", []) == "Inconclusive"


def test_the_condition_reader_is_faithful() -> None:
    evaluate = argo_rollouts.evaluate
    assert evaluate("len(result) > 0 && result[0] <= 0.02", [0.01]) is True
    assert evaluate("len(result) == 0 || !isNaN(result[0])", []) is True
    assert evaluate("result[0] != 1 && !(result[0] > 2)", [1.5]) is True
    with pytest.raises(IndexError):
        evaluate("result[0] < 1", [])
    with pytest.raises(ValueError):
        evaluate("__import__('os')", [1.0])
    metric = {"successCondition": "result[0] < {{args.max}}", "failureCondition": "false"}
    assert argo_rollouts.measure(metric, {}, [0.1]) == "Error"  # an unresolved arg


def _rollout(docs: Docs) -> dict[str, Any]:
    return find(docs, "Rollout", "gateway")


def _template(docs: Docs) -> dict[str, Any]:
    return find(docs, "AnalysisTemplate", "cinemesh-canary")


def _first_analysis(docs: Docs) -> dict[str, Any]:
    return analysis_steps(_rollout(docs))[0]


def _metric(docs: Docs, name: str = "error-ratio") -> dict[str, Any]:
    (metric,) = [m for m in _template(docs)["spec"]["metrics"] if m["name"] == name]
    return metric


def _missing_template(docs: Docs) -> None:
    _first_analysis(docs)["templates"][0]["templateName"] = "cinemesh-canary-v2"


def _template_in_another_namespace(docs: Docs) -> None:
    _template(docs)["metadata"]["namespace"] = "elsewhere"


def _arg_not_supplied(docs: Docs) -> None:
    args = _first_analysis(docs)["args"]
    args[:] = [a for a in args if a["name"] != "p99-max-s"]


def _arg_misspelled(docs: Docs) -> None:
    for arg in _first_analysis(docs)["args"]:
        if arg["name"] == "p99-max-s":
            arg["name"] = "p99-max"


def _canary_hash_from_stable(docs: Docs) -> None:
    for analysis in analysis_steps(_rollout(docs)):
        for arg in analysis["args"]:
            if arg["name"] == "canary-hash":
                arg["valueFrom"]["podTemplateHashValue"] = "Stable"


def _query_without_canary_selector(docs: Docs) -> None:
    prometheus = _metric(docs, "p99-latency")["provider"]["prometheus"]
    prometheus["query"] = prometheus["query"].replace(
        ', rollouts_pod_template_hash="{{args.canary-hash}}"', ""
    )


def _undeclared_arg_in_query(docs: Docs) -> None:
    prometheus = _metric(docs)["provider"]["prometheus"]
    prometheus["query"] = prometheus["query"].replace("{{args.service}}", "{{args.svc}}")


def _no_failure_condition(docs: Docs) -> None:
    del _metric(docs)["failureCondition"]


def _no_provider(docs: Docs) -> None:
    _metric(docs)["provider"] = {"web": {"url": "http://example"}}


def _count_without_interval(docs: Docs) -> None:
    del _metric(docs)["interval"]


def _failure_limit_above_count(docs: Docs) -> None:
    _metric(docs)["failureLimit"] = 9


def _unbalanced_query(docs: Docs) -> None:
    _metric(docs)["provider"]["prometheus"]["query"] += ")"


def _unknown_field(docs: Docs) -> None:
    _rollout(docs)["spec"]["strategy"]["canary"]["stepz"] = []


def _unknown_metric_field(docs: Docs) -> None:
    _metric(docs)["successConditon"] = "true"


def _no_analysis_step(docs: Docs) -> None:
    canary = _rollout(docs)["spec"]["strategy"]["canary"]
    canary["steps"] = [s for s in canary["steps"] if "analysis" not in s]


def _weight_never_judged(docs: Docs) -> None:
    canary = _rollout(docs)["spec"]["strategy"]["canary"]
    last_analysis = max(i for i, s in enumerate(canary["steps"]) if "analysis" in s)
    del canary["steps"][last_analysis]


def _weight_out_of_range(docs: Docs) -> None:
    _rollout(docs)["spec"]["strategy"]["canary"]["steps"][0]["setWeight"] = 150


def _two_kinds_in_one_step(docs: Docs) -> None:
    _rollout(docs)["spec"]["strategy"]["canary"]["steps"][0]["pause"] = {}


def _canary_may_lose_capacity(docs: Docs) -> None:
    _rollout(docs)["spec"]["strategy"]["canary"]["maxUnavailable"] = 1


def _deployment_also_runs_pods(docs: Docs) -> None:
    find(docs, "Deployment", "gateway")["spec"]["replicas"] = 3


def _missing_deployment(docs: Docs) -> None:
    _rollout(docs)["spec"]["workloadRef"]["name"] = "gateway-v2"


def _inline_template(docs: Docs) -> None:
    deployment = find(docs, "Deployment", "gateway")
    _rollout(docs)["spec"]["template"] = deployment["spec"]["template"]


def _selector_mismatch(docs: Docs) -> None:
    _rollout(docs)["spec"]["selector"] = {"matchLabels": {"app.kubernetes.io/name": "gw"}}


def _autoscaler_on_the_deployment(docs: Docs) -> None:
    target = find(docs, "HorizontalPodAutoscaler", "gateway")["spec"]["scaleTargetRef"]
    target.update({"apiVersion": "apps/v1", "kind": "Deployment"})


MISTAKES: dict[str, tuple[Callable[[Docs], None], str]] = {
    "missing template": (_missing_template, "no AnalysisTemplate 'cinemesh-canary-v2'"),
    "template elsewhere": (_template_in_another_namespace, "no AnalysisTemplate"),
    "arg not supplied": (_arg_not_supplied, "template arg 'p99-max-s' is not supplied"),
    "arg misspelled": (_arg_misspelled, "arg 'p99-max' is supplied but no template declares"),
    "stable hash": (_canary_hash_from_stable, "does not select the canary's pods"),
    "no canary selector": (_query_without_canary_selector, "does not select the canary's pods"),
    "undeclared arg": (_undeclared_arg_in_query, "{{args.svc}} does not resolve"),
    "no failureCondition": (_no_failure_condition, "failureCondition is missing"),
    "not prometheus": (_no_provider, "exactly one provider, prometheus"),
    "no interval": (_count_without_interval, "interval must be set"),
    "failureLimit": (_failure_limit_above_count, "count must be >= failureLimit"),
    "unbalanced": (_unbalanced_query, "brackets do not balance"),
    "unknown field": (_unknown_field, "'stepz' was unexpected"),
    "unknown metric field": (_unknown_metric_field, "'successConditon' was unexpected"),
    "no analysis": (_no_analysis_step, "no analysis step"),
    "unjudged weight": (_weight_never_judged, "weight 50 was never judged"),
    "weight range": (_weight_out_of_range, "setWeight must be between 0 and 100"),
    "two kinds": (_two_kinds_in_one_step, "a step has exactly one of"),
    "capacity": (_canary_may_lose_capacity, "canary.maxUnavailable must be 0"),
    "double pods": (_deployment_also_runs_pods, "must have replicas: 0"),
    "missing deployment": (_missing_deployment, "Deployment 'gateway-v2', not found"),
    "inline template": (_inline_template, "not carry one inline"),
    "selector": (_selector_mismatch, "selector differs"),
    "autoscaler": (_autoscaler_on_the_deployment, "whose pods its Rollout runs"),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_each_mistake_is_caught(mistake: str) -> None:
    break_it, expected = MISTAKES[mistake]
    docs = docs_of("prod")
    assert argo_rollouts.rollout_problems(docs) == []
    break_it(docs)
    problems = argo_rollouts.rollout_problems(docs)
    assert any(expected in p for p in problems), problems
