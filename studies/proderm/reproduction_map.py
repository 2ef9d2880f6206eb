"""Write ``plans/prodrem.reproduction.json``: where each published ProDERM figure lies in
the ARD of ``plans/prodrem.sap`` and which tolerance of ``published.json`` applies.

Run ``python -m studies.proderm.reproduction_map`` after changing the plan's analysis ids;
``tests/test_reproduction.py`` checks the committed file is current and that every figure is
within tolerance. The map is data (reviewable line by line); this module only spares writing
300 near-identical entries by hand.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "plans" / "prodrem.reproduction.json"
ARMS = ("IVIg", "Placebo")
TRT = "TRT01P"
RACE = {"Asian": "ASIAN", "Black or African American": "BLACK OR AFRICAN AMERICAN",
        "White": "WHITE", "Other": "OTHER"}
SCORES = {"cdasi_activity": "baseline_cdasi_a", "cdasi_damage": "baseline_cdasi_d",
          "extramuscular_global": "baseline_extglob", "cutaneous_vas": "baseline_vas"}
WEEK16 = {"cdasi_activity": ("D_cdasi_a", "A_cdasi_a"), "cdasi_damage": ("D_cdasi_d", "A_cdasi_d"),
          "cutaneous_vas": ("D_vas", "A_vas")}
SPEARMAN = ("tis", "chg_mmt8", "chg_cdasi_a", "chg_extglob", "chg_vas")


def _e(figure: str, tolerance, **lookup) -> dict:
    return {"figure": figure, "tolerance": tolerance, "lookup": lookup}


def _design() -> list[dict]:
    """Patient flow: counts, exact (published.json gives no tolerance for them)."""
    out = [_e(f"design.randomised.{arm}", 0, analysis="table 14.1.5", stat="N",
              groups={TRT: arm}) for arm in ARMS]
    out.append(_e("design.randomised.total", 0, analysis="table 14.1.5", stat="N",
                  groups={TRT: "Total"}))
    out += [_e("design.switched_in_first_period.Placebo_to_IVIg", 0, analysis="DS_switch",
               stat="n", level="Y", groups={TRT: "Placebo"}),
            _e("design.switched_in_first_period.IVIg_to_Placebo", 0, analysis="DS_switch",
               stat="n", level="Y", groups={TRT: "IVIg"})]
    out += [_e(f"design.entered_extension.{arm}", 0, analysis="DS_ext", stat="n", level="Y",
               groups={TRT: arm}) for arm in ARMS]
    out.append(_e("design.completed_study", 0, analysis="DS_compl", stat="n", level="Y",
                  groups={TRT: "Total"}))
    screened = {"analysis": "DS_rand", "stat": "n", "groups": {TRT: "Total"}}
    out.append({"figure": "design.screened", "tolerance": 0,
                "lookup": {"sum": [{**screened, "level": "Y"}, {**screened, "level": "N"}]}})
    out.append(_e("design.infusion_cycles", 0, analysis="EX_cycles", stat="sum",
                  variable="n_ivig", groups={TRT: "Total"}))
    out.append(_e("design.median_dose_g_per_kg", 0, analysis="EX_dose", stat="median",
                  groups={TRT: "Total"}))
    out.append(_e("missing.cdasi_activity_missing_week8_ivig", 0, analysis="MS_cdasi_a8",
                  stat="n_missing", groups={TRT: "IVIg"}))
    out.append(_e("missing.cdasi_damage_zero_stayed_zero", 0, analysis="MS_damage_zero",
                  stat="n", level="0", groups={TRT: "Total"}))
    entry = _e("missing.cdasi_damage_zero_placebo_transient_rise_to_2", 0,
               analysis="MS_damage_zero", stat="n", level="2", groups={TRT: "Placebo"})
    entry["note"] = "placebo patients whose highest damage score was 2 (back to 0 by the end)"
    out.append(entry)
    return out


def _table1(published: dict) -> list[dict]:
    out = []
    for sex, code in (("Female", "F"), ("Male", "M")):
        for arm in (*ARMS, "Total"):
            out.append(_e(f"table1.sex.{sex}.{arm}", 0, analysis="T1_sex", stat="n",
                          level=code, groups={TRT: arm}))
    for race, code in RACE.items():
        for arm in (*ARMS, "Total"):
            out.append(_e(f"table1.race.{race}.{arm}", 0, analysis="T1_race", stat="n",
                          level=code, groups={TRT: arm}))
    tol = {"mean": "table1.tolerance.mean", "sd": "table1.tolerance.sd",
           "median": "table1.tolerance.mean", "min": "table1.tolerance.mean",
           "max": "table1.tolerance.mean"}
    for arm in (*ARMS, "Total"):
        for stat, t in tol.items():
            out.append(_e(f"table1.bmi.{arm}.{stat}", t, analysis="T1_bmi", stat=stat,
                          groups={TRT: arm}))
            for score, variable in SCORES.items():
                out.append(_e(f"table1.{score}.{arm}.{stat}", t, analysis="T1_base", stat=stat,
                              variable=variable, groups={TRT: arm}))
    for score, variable in SCORES.items():
        out.append(_e(f"table1.{score}.smd", "table1.tolerance.smd", analysis="T1_smd",
                      stat="smd", variable=variable, level="IVIg - Placebo"))
    return out


def _baseline_distribution() -> list[dict]:
    cat = {"analysis": "B_cdasi_a", "stat": "n", "groups": {TRT: "Total"}}
    out = [_e("baseline_distribution.cdasi_activity_zero", 0, **cat, level="0"),
           {"figure": "baseline_distribution.cdasi_activity_gt6", "tolerance": 0,
            "lookup": {"sum": [{**cat, "level": "(6,14]"}, {**cat, "level": ">14"}]}},
           _e("baseline_distribution.cdasi_activity_gt14", 0, **cat, level=">14"),
           _e("baseline_distribution.cdasi_damage_zero", 0, analysis="B_cdasi_d", stat="n",
              level="0", groups={TRT: "Total"})]
    for arm in ARMS:
        out.append(_e(f"baseline_distribution.cutaneous_vas_le_0_2.{arm}", 0, analysis="B_vas",
                      stat="n", level="<=0.2", groups={TRT: arm}))
    for score in ("0", "1", "2", "3"):
        out.append(_e(f"baseline_distribution.highest_erythema_score_percent.{score}", 0.05,
                      analysis="T2_highest", stat="pct", level=score, groups={TRT: "Total"}))
    for category in ("A", "B", "C", "D/E"):
        out.append(_e(f"baseline_distribution.mitax_cutaneous_category_percent.{category}",
                      0.05, analysis="B_mitax", stat="pct", level=category,
                      groups={TRT: "Total"}))
    return out


def _table2(published: dict) -> list[dict]:
    out = []
    for area, measures in published["table2"]["areas"].items():
        for measure in measures:
            out.append(_e(f"table2.areas.{area}.{measure}", "table2.tolerance.percent",
                          analysis="T2_areas", stat="pct", level="Y",
                          groups={"PARCAT1": area, "PARCAT2": measure}))
    for measure in ("erythema", "ulceration", "hand_damage"):
        out.append(_e(f"table2.gottron_hands.{measure}", "table2.tolerance.percent",
                      analysis="T2_other", stat="pct", level="Y",
                      groups={"PARCAT1": "Gottron's hands", "PARCAT2": measure}))
    out.append(_e("table2.gottron_papules_on_hands", "table2.tolerance.percent",
                  analysis="T2_papules", stat="pct", level="Y", groups={TRT: "Total"}))
    for key, area in (("periungual_changes", "Periungual"), ("alopecia", "Alopecia")):
        out.append(_e(f"table2.{key}", "table2.tolerance.percent", analysis="T2_other",
                      stat="pct", level="Y",
                      groups={"PARCAT1": area, "PARCAT2": area.lower()}))
    return out


def _week16() -> list[dict]:
    out = []
    for score, (desc, model) in WEEK16.items():
        base = f"week16_change.{score}"
        for arm in ARMS:
            out.append(_e(f"{base}.{arm}.mean", "week16_change.tolerance.mean",
                          analysis=desc, stat="mean", groups={TRT: arm}))
            for i, bound in enumerate(("mean_ci_lower", "mean_ci_upper")):
                out.append(_e(f"{base}.{arm}.ci95.{i}", "week16_change.tolerance.ci_bound",
                              analysis=desc, stat=bound, groups={TRT: arm}))
            out.append(_e(f"{base}.lsmeans.{arm}", "week16_change.tolerance.lsmean",
                          analysis=model, stat="lsmean", groups={TRT: arm}))
        contrast = "IVIg - Placebo"
        out.append(_e(f"{base}.difference.estimate", "week16_change.tolerance.lsmean",
                      analysis=model, stat="diff", level=contrast))
        for i, bound in enumerate(("diff_ci_lower", "diff_ci_upper")):
            out.append(_e(f"{base}.difference.ci95.{i}", "week16_change.tolerance.ci_bound",
                          analysis=model, stat=bound, level=contrast))
        out.append(_e(f"{base}.difference.p_value", "p_value_side", analysis=model,
                      stat="p_value", level=contrast))
    return out


def _strata(published: dict) -> list[dict]:
    out = []
    tol = "week16_change_by_stratum.tolerance"
    for score, analysis, stratum in (("cdasi_activity", "D_cdasi_a_sev", "severity"),
                                     ("cutaneous_vas", "D_vas_sev", "vas_severity")):
        for level, arms in published["week16_change_by_stratum"][score].items():
            aid = f"{analysis}[{stratum}={level}]"
            for arm in ARMS:
                groups = {TRT: arm, stratum: level}
                out.append(_e(f"week16_change_by_stratum.{score}.{level}.{arm}.mean",
                              f"{tol}.mean", analysis=aid, stat="mean", groups=groups))
                for i, bound in enumerate(("mean_ci_lower", "mean_ci_upper")):
                    out.append(_e(f"week16_change_by_stratum.{score}.{level}.{arm}.ci95.{i}",
                                  f"{tol}.mean", analysis=aid, stat=bound, groups=groups))
                if "n" in arms[arm]:
                    out.append(_e(f"week16_change_by_stratum.{score}.{level}.{arm}.n",
                                  f"{tol}.n", analysis=aid, stat="n", groups=groups))
    return out


def _later(published: dict) -> list[dict]:
    out = []
    for arm in ARMS:
        out.append(_e(f"week40.cdasi_activity_change.{arm}.mean", "week40.tolerance.mean",
                      analysis="W40_chg", stat="mean", groups={TRT: arm}))
        for i, bound in enumerate(("mean_ci_lower", "mean_ci_upper")):
            out.append(_e(f"week40.cdasi_activity_change.{arm}.ci95.{i}",
                          "week40.tolerance.mean", analysis="W40_chg", stat=bound,
                          groups={TRT: arm}))
        for key, variable in (("cdasi_activity_mean", "cdasi_a"),
                              ("cdasi_damage_mean", "cdasi_d"), ("cutaneous_vas_mean", "vas")):
            out.append(_e(f"week40.{key}.{arm}.mean", "week40.tolerance.mean",
                          analysis="W40_levels", stat="mean", variable=variable,
                          groups={TRT: arm}))
            entry = _e(f"week40.{key}.{arm}.sd", None, analysis="W40_levels", stat="sd",
                       variable=variable, groups={TRT: arm})
            entry["note"] = "no published tolerance for SDs at week 40"
            out.append(entry)
        out.append(_e(f"responders_35pct.week16.{arm}.responders",
                      "responders_35pct.tolerance.count", analysis="R35", stat="n", level="Y",
                      groups={TRT: arm}))
        responders = {"analysis": "R35", "stat": "n", "groups": {TRT: arm}}
        out.append({"figure": f"responders_35pct.week16.{arm}.n",
                    "tolerance": "responders_35pct.tolerance.count",
                    "lookup": {"sum": [{**responders, "level": "Y"},
                                       {**responders, "level": "N"}]}})
        for week in ("16", "40"):
            out.append(_e(f"mitax_improved_one_category_percent.week{week}.{arm}",
                          "mitax_improved_one_category_percent.tolerance.percent",
                          analysis=f"MITAX{week}", stat="pct", level="Y", groups={TRT: arm}))
    later = [{"analysis": "F3b", "stat": "pct", "level": "Y",
              "groups": {TRT: arm, "visit": str(week)}} for arm in ARMS for week in (32, 36, 40)]
    out.append({"figure": "responders_35pct.after_week28_percent_at_least", "kind": "at_least",
                "tolerance": 0, "lookup": {"min": later}})
    for i, a in enumerate(SPEARMAN):
        for j, b in enumerate(SPEARMAN):
            if j > i:
                out.append(_e(f"spearman_week16.r.{i}.{j}", "spearman_week16.tolerance.r",
                              analysis="F5", stat="correlation", level=f"{a}|{b}"))
    return out


def _table3(published: dict) -> list[dict]:
    classes = published["table3_counts"]["classes"]
    return [_e(f"table3_counts.counts.{i}.{j}", "table3_counts.tolerance.count",
               analysis="T3_counts", stat="n", level=row, groups={"cdasi_class": col})
            for i, row in enumerate(classes) for j, col in enumerate(classes)]


def build(published: dict) -> dict:
    return {
        "title": "ProDERM cutaneous post-hoc analysis, eClinicalMedicine 2023;64:102234",
        "published": "../studies/proderm/published.json",
        "entries": [*_design(), *_table1(published), *_baseline_distribution(), *_table2(published),
                    *_week16(), *_strata(published), *_later(published),
                    *_table3(published)],
        "not_compared": [],
    }


def main(argv: list[str]) -> int:
    published = json.loads((Path(__file__).with_name("published.json")).read_text())
    text = json.dumps(build(published), indent=1, ensure_ascii=False) + "\n"
    if "--check" in argv:
        return 0 if OUT.exists() and OUT.read_text() == text else 1
    OUT.write_text(text)
    print(f"wrote {OUT} ({len(build(published)['entries'])} figures)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
