"""The seams of the modules split to the house size: each part is importable where its
users import it, and the names a split moved are the same objects at their old home."""

from __future__ import annotations

import dataclasses

from sap_engine import model as m
from sap_engine import model_declarations, model_expr


def _defined_in(module) -> list[str]:
    # What a module defines (its private helpers excepted; _num and _loc are the model's).
    return [n for n, v in vars(module).items()
            if getattr(v, "__module__", None) == module.__name__
            and (not n.startswith("_") or n in ("_num", "_loc"))]


def test_the_model_is_one_namespace_of_its_three_modules():
    # `m.Col`, `m.Population`, `m.walk`, `m._num`: every name is the defining module's object.
    moved = [*_defined_in(model_expr), "Expr", "Kind", "RoleKind", "Loc",
             *_defined_in(model_declarations), "MAX_VISITS"]
    assert {"Col", "BinOp", "Cut", "Interval", "walk", "children", "_num", "_loc",
            "Population", "Visits", "visit_range", "Estimand", "DataBlock"} <= set(moved)
    for name in moved:
        owner = model_expr if hasattr(model_expr, name) else model_declarations
        assert getattr(m, name) is getattr(owner, name), name
    assert {"Analysis", "Table", "Figure", "Document", "Plan"} <= set(_defined_in(m))


def test_each_model_module_builds_only_on_the_ones_before():
    later = {"sap_engine.model": (model_expr, model_declarations),
             "sap_engine.model_declarations": (model_expr,)}
    for module, earlier in later.items():
        for before in earlier:
            assert not any(getattr(v, "__module__", None) == module
                           for v in vars(before).values()), (before.__name__, module)
    where = m.Population("FAS", None, "adsl", m.BinOp("==", m.Col("FASFL"), m.Str("Y")))
    assert list(m.walk(where))[1:] == [m.BinOp("==", m.Col("FASFL"), m.Str("Y")),
                                       m.Col("FASFL"), m.Str("Y")]


def test_the_evaluator_is_its_parameters_data_layer_plus_the_per_subject_evaluation():
    from sap_engine.data import derive, parameters, scope

    assert issubclass(derive.Evaluator, parameters.ParameterValues)
    # The data layer knows nothing of populations or of expressions per subject.
    assert not hasattr(parameters.ParameterValues, "subject_eval")
    assert not hasattr(parameters.ParameterValues, "population")
    for name in ("Scope", "EACH_VISIT", "SUBJECTS", "NO_HANDLING", "Handling"):
        assert getattr(derive, name) is getattr(scope, name), name
    assert [f.name for f in dataclasses.fields(derive.Evaluator)] == ["checked", "_params",
                                                                      "_rows"]


def test_the_transformer_is_the_statement_rules_over_the_expression_rules():
    from sap_engine import parse, parse_expressions, parse_statements

    assert issubclass(parse_statements.PlanToModel, parse_expressions.ExpressionsToModel)
    # The expression rules build expressions only; blocks are the statements' business.
    assert hasattr(parse_expressions.ExpressionsToModel, "cut")
    assert not hasattr(parse_expressions.ExpressionsToModel, "analysis")
    assert not hasattr(parse_expressions.ExpressionsToModel, "fold")
    plan = parse.parse_text('population FAS = adsl where not (AGE in {1, 2}) and x < -inf')
    where = plan.populations["FAS"].where
    assert where == m.BinOp("and", m.Not(m.InSet(m.Col("AGE"), (m.Num(1.0), m.Num(2.0)))),
                            m.BinOp("<", m.Col("x"), m.Neg(m.Inf())))


def test_the_executor_runs_steps_on_frames_built_apart():
    from sap_engine import analysis_preflight, execute, execute_frames

    # The preflight builds frames without running a method: it needs only execute_frames
    # for them (and execute.run_step for the steps it does run).
    assert analysis_preflight.analysis_frame is execute_frames.analysis_frame
    assert execute.analysis_frame is execute_frames.analysis_frame
    assert execute.TOTAL == execute_frames.TOTAL == "Total"
    for runner in ("execute", "run_step", "refuse_nonfinite", "Results"):
        assert not hasattr(execute_frames, runner), runner


def test_the_checker_checks_statements_over_the_typing_of_expressions():
    from sap_engine import check, check_expressions

    assert issubclass(check._Checker, check_expressions.ExpressionChecker)
    assert hasattr(check_expressions.ExpressionChecker, "kind")
    for statement_check in ("run", "check_parameter", "check_estimand", "check_display"):
        assert not hasattr(check_expressions.ExpressionChecker, statement_check)
    # An expression is typed without a statement: the dataset is its only context.
    typing = check_expressions.ExpressionChecker(m.Plan(path="<plan>"), {})
    assert typing.kind(m.BinOp("+", m.Num(1.0), m.Num(2.0)), None) == "numeric"
    assert typing.kind(m.Col("AGE"), None) is None
    assert [d.code for d in typing.problems] == ["SAP201"]


def test_the_survival_methods_share_one_reading_of_their_input():
    import numpy as np
    import pandas as pd

    from sap_engine.methods import registry, survival, survival_inputs

    assert survival.event_indicator is survival_inputs.event_indicator
    for name in ("kaplan_meier", "logrank", "cox"):
        method = registry.get(name)
        assert method is not None and method.family == "survival"
        assert [r.name for r in method.roles[:2]] == ["time", "event"]
    frame = pd.DataFrame({"t": [3.0, 1.0, None, 2.0], "c": [0, 1, 0, 2], "g": list("abab")})
    used, time, event = survival_inputs.time_event_rows(
        frame, {"time": "t", "event": "c", "group": "g"}, {})
    assert list(used.index) == [0, 1, 3]
    assert time.tolist() == [3.0, 1.0, 2.0] and event.tolist() == [1, 0, 0]
    labels, levels = survival_inputs.ordered_levels(used["g"], ["b"])
    assert levels == ["b", "a"] and list(labels) == ["a", "b", "b"]
    assert np.array_equal(survival_inputs.event_indicator(np.array([1.0, 0.0]), "event"), [1, 0])
