"""The colour table behind the legend and the map styles (no browser needed)."""

from __future__ import annotations

from map_ui.legend import DEFAULT_FILL, colour_for, colour_table, is_outline, legend


def test_longest_prefix_and_fallbacks():
    assert colour_for("gb2023", "070101") == colour_for("gb2023", "07") != DEFAULT_FILL
    assert colour_for("gb50137", "E1") != colour_for("gb50137", "E")  # E1 water has its own colour
    assert colour_for("gb50137", "R2") == colour_for("gb50137", "R")
    assert colour_for("gb2023", "99") == DEFAULT_FILL and colour_for(None, "07") == DEFAULT_FILL
    table = colour_table()
    assert {"ecological_red_line", "permanent_basic_farmland", "urban_development_boundary"} <= set(table["themes"])
    assert is_outline("ecological_red_line") and not is_outline("planned_land_use") and not is_outline(None)


def test_legend_groups_follow_the_layers_shown():
    layers = [{"class_scheme": "gb2023", "theme": "planned_land_use"},
              {"class_scheme": None, "theme": "ecological_red_line"},
              {"class_scheme": "gb2023", "theme": "current_land_use"}]
    zh = legend(layers, "zh")
    assert [g["scheme"] for g in zh] == ["gb2023", "theme"]
    assert zh[0]["entries"][0]["label"] == "01 耕地" and zh[1]["entries"][0]["label"] == "生态保护红线"
    assert legend(layers, "en")[1]["entries"][0]["label"] == "Ecological protection red line"
