"""多测合一 packages against the real store: checks, versions and lineage, acceptance, sharing,
reuse as a pre-check boundary. Every expected figure is computed here with shapely."""

from __future__ import annotations

import pytest
import shapely
from shapely.geometry import box

from conflict_checks.applies import what_applies
from conflict_checks.precheck import run_check
from conflict_checks.schemas import ProjectMeta
from conflict_checks.site import sites_from_file
from gis_platform.core.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    InputError,
    UnsafeArchiveError,
)
from surveys.service import (
    Reader,
    accept_package,
    get_package,
    list_packages,
    return_package,
    shared_results,
    site_from_survey,
    submit_package,
    surveys_dir,
)
from tests.factories import write_vector
from tests.surveys.builders import (
    E0,
    N0,
    PDF,
    boundary_package,
    counts,
    geojson,
    make_zip,
    metadata,
    txt,
)

pytestmark = pytest.mark.postgis

BUREAU = Reader("bureau")


def submit(store, path, code, *, stage="land_use", item="boundary_survey", firm="甲测绘公司", **kw):
    with store.session() as s:
        return submit_package(s, store.settings, path, project_code=code, stage=stage, item=item, firm=firm,
                              surveyor="张工", actor="firm-user", **kw)


def findings(pkg, check=None, status=None):
    return [f for f in pkg["report"]["findings"]
            if (check is None or f["check"] == check) and (status is None or f["status"] == status)]


def test_clean_package_passes_is_accepted_and_shared(store, tmp_path, uid):
    a = box(E0 + 100, N0 + 100, E0 + 180, N0 + 160)
    b = box(E0 + 180, N0 + 100, E0 + 230, N0 + 160)  # shares an edge with a: touching, no gap
    pkg = submit(store, boundary_package(tmp_path, [a, b], vector=[a, b]), f"P-{uid}")
    assert pkg["status"] == "passed" and pkg["check_status"] == "passed", findings(pkg, status="fail")
    assert pkg["version"] == 1 and pkg["supersedes_id"] is None
    fig = pkg["report"]["figures"]
    assert fig["txt_area_m2"] == pytest.approx(a.area + b.area, abs=1e-4)
    assert fig["vector_area_m2"] == pytest.approx(a.area + b.area, abs=1e-4)
    assert fig["table_area_m2"] == pytest.approx(round(a.area, 2) + round(b.area, 2), abs=1e-4)
    assert {f["check"] for f in findings(pkg, status="pass")} >= {"manifest", "math_basis", "topology", "consistency"}
    assert [f["name"] for f in pkg["files"]] == ["勘测定界图.geojson", "勘测定界报告.pdf", "界址点坐标.txt", "面积表.xlsx"]
    assert all((surveys_dir(store.settings) / f["sha256"]).exists() for f in pkg["files"])
    # a firm or department cannot read it before acceptance; the bureau shares it on acceptance
    with store.session() as s:
        with pytest.raises(NotFoundError):
            get_package(s, pkg["id"], Reader.parse("department:property_registration"))
        assert pkg["id"] not in [r["id"] for r in shared_results(s, "property_registration")]
        accepted = accept_package(s, store.settings, pkg["id"], actor="bureau-user")
    assert accepted["status"] == "accepted" and accepted["accepted_by"] == "bureau-user"
    assert accepted["shared_with"] == sorted(["planning", "property_registration", "one_map"])
    assert [e["status"] for e in accepted["history"]] == ["submitted", "passed", "accepted"]
    with store.session() as s:
        shared = shared_results(s, "不动产登记")
        assert [r["id"] for r in shared if r["project_code"] == f"P-{uid}"] == [pkg["id"]]
        dept = get_package(s, pkg["id"], Reader.parse("department:property_registration"))
        assert dept["report"] == accepted["report"]
        with pytest.raises(NotFoundError):
            get_package(s, pkg["id"], Reader.parse("department:fire"))  # not shared with fire
        # "what applies here" lists the shared result with the overlapped area
        res = what_applies(s, store.settings, box(E0 + 150, N0 + 120, E0 + 200, N0 + 140))
        rows = [r for r in res.extra["surveys"] if r["package_id"] == pkg["id"]]
        assert rows and rows[0]["area_m2"] == pytest.approx(2 * 50 * 20, abs=0.01)  # TXT + vector parcels


def test_parcel_overlap_fails_and_publishes_nothing(store, tmp_path, uid):
    a = box(E0 + 300, N0 + 100, E0 + 380, N0 + 160)
    b = box(E0 + 370, N0 + 110, E0 + 420, N0 + 160)  # overlaps a by 10 × 50
    before = counts(store.engine)
    pkg = submit(store, boundary_package(tmp_path, [a, b]), f"OV-{uid}")
    assert pkg["status"] == "failed"
    overlaps = [f for f in findings(pkg, "topology", "fail") if "overlap_m2" in f["figures"]]
    assert len(overlaps) == 1 and overlaps[0]["file"] == "界址点坐标.txt"
    assert overlaps[0]["figures"]["overlap_m2"] == pytest.approx(a.intersection(b).area, abs=1e-4)
    assert "地块1" in overlaps[0]["feature"] and "地块2" in overlaps[0]["feature"]
    after = counts(store.engine)
    assert after["survey_packages"] == before["survey_packages"] + 1  # the report is stored …
    assert after["survey_shares"] == before["survey_shares"]           # … nothing is published
    with store.session() as s, pytest.raises(ConflictError):
        accept_package(s, store.settings, pkg["id"])
    assert counts(store.engine)["survey_shares"] == before["survey_shares"]


def test_gap_between_parcels_fails(store, tmp_path, uid):
    a = box(E0 + 300, N0 + 300, E0 + 380, N0 + 360)
    b = box(E0 + 380.05, N0 + 300, E0 + 430, N0 + 360)  # a 5 cm slit
    pkg = submit(store, boundary_package(tmp_path, [a, b]), f"GAP-{uid}")
    gaps = [f for f in findings(pkg, "topology", "fail") if "gap_m2" in f["figures"]]
    assert pkg["status"] == "failed" and len(gaps) == 1
    assert gaps[0]["figures"]["gap_m2"] == pytest.approx(0.05 * 60, rel=1e-3)


def test_txt_and_vector_area_disagree(store, tmp_path, uid):
    a = box(E0 + 500, N0 + 100, E0 + 600, N0 + 200)
    drawn = box(E0 + 500, N0 + 100, E0 + 602, N0 + 200)  # 200 m² more than the TXT
    pkg = submit(store, boundary_package(tmp_path, [a], vector=[drawn], table_total=a.area), f"AR-{uid}")
    assert pkg["status"] == "failed"
    bad = findings(pkg, "consistency", "fail")
    pair = [f for f in bad if {"txt_area_m2", "vector_area_m2"} <= set(f["figures"])]
    assert len(pair) == 1
    fig = pair[0]["figures"]
    assert fig["txt_area_m2"] == pytest.approx(a.area) and fig["vector_area_m2"] == pytest.approx(drawn.area)
    assert fig["difference_m2"] == pytest.approx(drawn.area - a.area, abs=1e-4)
    assert fig["allowed_m2"] == pytest.approx(max(0.5, 0.001 * drawn.area))
    # the TXT agrees with the table: that pair passes
    ok = [f for f in findings(pkg, "consistency", "pass") if {"txt_area_m2", "table_area_m2"} <= set(f["figures"])]
    assert len(ok) == 1


def _accepted_boundary(store, tmp_path, code, site):
    pkg = submit(store, boundary_package(tmp_path, [site], name="b.zip"), code)
    assert pkg["status"] == "passed", findings(pkg, status="fail")
    with store.session() as s:
        return accept_package(s, store.settings, pkg["id"], actor="bureau")


def test_verification_footprint_exceeds_approved_site(store, tmp_path, uid):
    code = f"HS-{uid}"
    site = box(E0 + 700, N0 + 100, E0 + 800, N0 + 200)
    _accepted_boundary(store, tmp_path, code, site)
    inside = box(E0 + 710, N0 + 110, E0 + 750, N0 + 150)
    over = box(E0 + 770, N0 + 160, E0 + 812, N0 + 190)  # 12 m past the east edge
    fp = geojson(tmp_path / "竣工基底.geojson", [inside, over], floors=[5, 3])
    green = geojson(tmp_path / "绿地.geojson", [box(E0 + 700, N0 + 100, E0 + 800, N0 + 108)])
    zp = make_zip(tmp_path / "hs.zip", {"竣工基底.geojson": fp, "绿地.geojson": green, "核实报告.pdf": PDF,
                                        "metadata.json": metadata(approved={"building_coverage": 0.35, "far": 2.0,
                                                                            "green_ratio": 0.10})})
    pkg = submit(store, zp, code, stage="completion", item="planning_verification")
    assert pkg["status"] == "failed"
    union = shapely.union_all([inside, over])
    out = [f for f in findings(pkg, "verification", "fail") if "outside_m2" in f["figures"]]
    assert len(out) == 1 and out[0]["figures"]["outside_m2"] == pytest.approx(union.difference(site).area, abs=1e-4)
    assert out[0]["figures"]["site_area_m2"] == pytest.approx(site.area)
    ind = pkg["report"]["figures"]["indicators"]
    assert ind["building_coverage"] == pytest.approx(union.intersection(site).area / site.area, abs=1e-6)
    assert ind["far"] == pytest.approx((inside.area * 5 + over.area * 3) / site.area, abs=1e-6)
    assert ind["green_ratio"] == pytest.approx(800 / site.area, abs=1e-6)
    green_f = [f for f in findings(pkg, "verification") if f["figures"].get("approved") == 0.10]
    assert green_f[0]["status"] == "fail"  # 0.08 < 0.10 − 0.005
    assert pkg["report"]["figures"]["approved_site_from"].startswith("survey package #")


def test_wrong_datum_zone_and_corrupt_files(store, tmp_path, uid):
    a = box(E0 + 900, N0 + 100, E0 + 950, N0 + 150)
    before = counts(store.engine)
    xian = boundary_package(tmp_path, [a], name="x.zip", txt_bytes=txt([a], system="1980西安坐标系"))
    pkg = submit(store, xian, f"X80-{uid}")
    bad = findings(pkg, "math_basis", "fail")
    assert pkg["status"] == "failed" and len(bad) == 1 and bad[0]["file"] == "界址点坐标.txt"
    assert "1980西安坐标系" in bad[0]["message_zh"] and "CGCS2000" in bad[0]["message_en"]
    assert counts(store.engine)["survey_features"] == before["survey_features"]  # nothing read from it

    zone = boundary_package(tmp_path, [a], name="z.zip", txt_bytes=txt([a], zone=36))
    pkg = submit(store, zone, f"Z36-{uid}")
    bad = findings(pkg, "math_basis", "fail")
    assert len(bad) == 1 and "zone mismatch" in bad[0]["message_en"] and "108" in bad[0]["message_en"]

    corrupt = boundary_package(tmp_path, [a], name="c.zip", extra={
        "勘测定界报告.pdf": b"this is not a pdf", "勘测定界图.gpkg": b"SQLite format 3\x00 broken",
        "说明.docx": b"PK\x03\x04"})
    pkg = submit(store, corrupt, f"CR-{uid}")
    by_file = {f["file"]: f for f in findings(pkg, status="fail")}
    assert by_file["勘测定界报告.pdf"]["check"] == "read" and "PDF" in by_file["勘测定界报告.pdf"]["message_en"]
    assert by_file["勘测定界图.gpkg"]["check"] == "read"
    assert by_file["说明.docx"]["check"] == "manifest" and "outside the manifest" in by_file["说明.docx"]["message_en"]


def test_refused_packages_store_nothing(store, tmp_path, uid):
    before = counts(store.engine)
    files_before = set(surveys_dir(store.settings).glob("*")) if surveys_dir(store.settings).exists() else set()
    evil = make_zip(tmp_path / "evil.zip", {"../../evil.txt": b"x", "报告.pdf": PDF})
    with pytest.raises(UnsafeArchiveError):
        submit(store, evil, f"EV-{uid}")
    not_zip = tmp_path / "package.rar"
    not_zip.write_bytes(b"Rar!")
    with pytest.raises(InputError):
        submit(store, not_zip, f"EV-{uid}")
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError):
        submit(store, broken, f"EV-{uid}")
    with pytest.raises(InputError):  # an item of another stage
        submit(store, boundary_package(tmp_path, [box(E0, N0, E0 + 10, N0 + 10)]), f"EV-{uid}", item="房产测绘")
    assert counts(store.engine) == before
    now = set(surveys_dir(store.settings).glob("*")) if surveys_dir(store.settings).exists() else set()
    assert now == files_before


def test_resubmission_supersedes_with_history(store, tmp_path, uid):
    code = f"RS-{uid}"
    a = box(E0 + 100, N0 + 400, E0 + 200, N0 + 500)
    v1 = _accepted_boundary(store, tmp_path, code, a)
    a2 = box(E0 + 100, N0 + 400, E0 + 210, N0 + 500)
    v2 = submit(store, boundary_package(tmp_path, [a2], name="v2.zip"), code)
    assert v2["version"] == 2 and v2["supersedes_id"] == v1["id"] and v2["status"] == "passed"
    with store.session() as s:
        # until v2 is accepted, departments keep reading v1
        assert [r["id"] for r in shared_results(s, "planning") if r["project_code"] == code] == [v1["id"]]
        accept_package(s, store.settings, v2["id"], actor="bureau")
    with store.session() as s:
        old = get_package(s, v1["id"], BUREAU)
        new = get_package(s, v2["id"], BUREAU)
        assert [e["status"] for e in old["history"]] == ["submitted", "passed", "accepted", "superseded"]
        assert old["history"][-1]["details"] == {"superseded_by": v2["id"]}
        assert old["superseded_by"] == v2["id"] and old["report"] == v1["report"]  # never overwritten
        assert old["submitted_at"] == v1["submitted_at"] and old["source_sha256"] == v1["source_sha256"]
        assert new["status"] == "accepted"
        assert [r["id"] for r in shared_results(s, "planning") if r["project_code"] == code] == [v2["id"]]
        versions = [p["version"] for p in list_packages(s, BUREAU, project_code=code)]
        assert versions == [2, 1]
        # a site from the superseded v1 is no longer offered
        with pytest.raises(ConflictError):
            site_from_survey(s, store.settings, v1["id"])
        # a third, failing submission supersedes nothing accepted: v2 stays shared
    v3 = submit(store, boundary_package(tmp_path, [a2], name="v3.zip", table_total=1.0), code)
    assert v3["status"] == "failed" and v3["supersedes_id"] == v2["id"]
    with store.session() as s:
        assert get_package(s, v2["id"], BUREAU)["status"] == "accepted"
        returned = return_package(s, v3["id"], reason="面积表合计错误", actor="bureau")
        assert returned["status"] == "returned" and returned["history"][-1]["reason"] == "面积表合计错误"


def test_firm_reads_own_packages_only(store, tmp_path, uid):
    code = f"RD-{uid}"
    a = box(E0 + 300, N0 + 600, E0 + 350, N0 + 650)
    pkg = submit(store, boundary_package(tmp_path, [a]), code, firm="甲测绘公司")
    with store.session() as s:
        assert get_package(s, pkg["id"], Reader.parse("firm:甲测绘公司"))["id"] == pkg["id"]
        with pytest.raises(NotFoundError):
            get_package(s, pkg["id"], Reader.parse("firm:乙测绘公司"))
        assert pkg["id"] not in [p["id"] for p in list_packages(s, Reader.parse("firm:乙测绘公司"))]
        assert pkg["id"] in [p["id"] for p in list_packages(s, Reader.parse("firm:甲测绘公司"))]
        with pytest.raises(ForbiddenError):  # a firm cannot accept
            accept_package(s, store.settings, pkg["id"], reader=Reader.parse("firm:甲测绘公司"))
    with pytest.raises(ConflictError):  # the stage is commissioned to 甲; 乙 cannot submit to it
        submit(store, boundary_package(tmp_path, [a], name="other.zip"), code, firm="乙测绘公司")
    with store.session() as s:
        accept_package(s, store.settings, pkg["id"])
        # once accepted (published), the other firm may read it too; a department it is shared with reads it
        assert get_package(s, pkg["id"], Reader.parse("firm:乙测绘公司"))["status"] == "accepted"
        assert get_package(s, pkg["id"], Reader.parse("department:planning"))["status"] == "accepted"


def test_accepted_boundary_as_precheck_site_gives_the_same_findings(store, tmp_path, uid):
    plan = store.plan(f"sv-cl-{uid}", kind="control_line")
    red = box(E0 + 1150, N0 + 100, E0 + 1300, N0 + 300)
    store.ingest(write_vector(tmp_path / "red.geojson", [red], "EPSG:4523"), plan, "stbhhx",
                 theme="ecological_red_line")
    site = box(E0 + 1100, N0 + 100, E0 + 1200, N0 + 200)
    code = f"PC-{uid}"
    pkg = submit(store, boundary_package(tmp_path, [site]), code)
    cl = findings(pkg, "control_lines")
    assert pkg["status"] == "passed" and cl and cl[0]["status"] == "warning"
    assert cl[0]["figures"]["verdict"] == "fail" and cl[0]["figures"]["overlaps"][0]["area_m2"] == pytest.approx(
        site.intersection(red).area)
    with store.session() as s:
        accept_package(s, store.settings, pkg["id"])
    txt_path = tmp_path / "界址点坐标.txt"
    txt_path.write_bytes(txt([site]))
    meta = ProjectMeta(project_code=code, name="复用", proposed_use="0701")
    with store.session() as s:
        from_file = run_check(s, store.settings, sites_from_file(txt_path, store.settings)[0], meta)
        from_survey = run_check(s, store.settings, site_from_survey(s, store.settings, pkg["id"]), meta)
    assert from_survey.verdict == from_file.verdict == "fail"
    assert from_survey.area == from_file.area
    strip = lambda r: [f.model_dump(exclude={"loaded_at"}) for f in r.layers]
    assert strip(from_survey) == strip(from_file)
    assert from_survey.source_sha256 == from_file.source_sha256
    hit = next(f for f in from_survey.layers if f.ref == f"{plan}/stbhhx")
    assert hit.area_m2 == pytest.approx(site.intersection(red).area)
