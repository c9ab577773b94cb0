"""Catalog files: CSV exported from a spreadsheet, or JSON."""

import json

from factory import quiz_document

from quiz.authoring.catalog import read_catalog
from quiz.authoring.loader import load_quiz


def test_csv_columns_become_product_fields_and_attributes():
    header = "id,title.en,title.ja,url,price,tags,in_stock,priority,roast"
    text = f'{header}\nkenya,Kenya,ケニア,/kenya,"1,250",light|fruity,no,2,light\n'
    catalog = read_catalog(text, file="c.csv")
    assert catalog.problems == []
    (product,) = catalog.products
    assert product.title == {"en": "Kenya", "ja": "ケニア"}
    assert product.price == 1250
    assert product.tags == ["light", "fruity"]
    assert product.in_stock is False
    assert product.priority == 2
    assert product.attributes == {"roast": "light"}


def test_plain_and_localized_columns_of_one_field_are_refused():
    (problem,) = read_catalog("id,title,title.ja,url\nx,X,エックス,/x\n", file="c.csv").problems
    assert problem.message == "use either a 'title' column or 'title'.<locale> columns, not both"


def test_missing_required_column_is_named():
    catalog = read_catalog("id,name,url\nx,X,/x\n", file="c.csv")
    assert catalog.products == []
    (problem,) = catalog.problems
    assert problem.message.startswith("the header row has no column 'title'")


def test_bad_cell_is_located_by_row_and_column():
    (problem,) = read_catalog("id,title,url,price\nx,X,/x,abc\n", file="c.csv").problems
    assert (problem.line, problem.column, problem.path) == (2, 4, "price")
    assert problem.message == "'abc' is not a number"


def test_json_catalog_errors_point_into_the_catalog(tmp_path):
    (tmp_path / "products.json").write_text(
        json.dumps({"products": [{"id": "x", "title": "X", "url": "/x", "price": -3}]}, indent=2), encoding="utf-8"
    )
    document = quiz_document(catalog="products.json", products=[])
    (tmp_path / "quiz.json").write_text(json.dumps(document), encoding="utf-8")
    (problem,) = load_quiz(tmp_path / "quiz.json").problems
    assert problem.file.endswith("products.json")
    assert problem.path == "products[0].price"
    assert problem.line == 7


def test_catalog_products_join_inline_products(tmp_path):
    (tmp_path / "more.csv").write_text("id,title,url,tags\nextra,Extra,/extra,hydrating\n", encoding="utf-8")
    document = quiz_document(catalog="more.csv")
    (tmp_path / "quiz.json").write_text(json.dumps(document), encoding="utf-8")
    quiz = load_quiz(tmp_path / "quiz.json").quiz
    assert quiz is not None
    assert [product.id for product in quiz.products] == ["aqua", "rose", "matte", "extra"]


def test_missing_catalog_file_is_a_problem(tmp_path):
    (tmp_path / "quiz.json").write_text(json.dumps(quiz_document(catalog="nope.csv")), encoding="utf-8")
    (problem,) = load_quiz(tmp_path / "quiz.json").problems
    assert "cannot read the file" in problem.message


def test_lint_points_at_the_catalog_row_of_a_catalog_product(tmp_path, capsys):
    from quiz.cli import main

    (tmp_path / "more.csv").write_text(
        "id,title,url,tags\nextra,Extra,/extra,hydrating\nghost,Ghost,/ghost,nothing\n", encoding="utf-8"
    )
    (tmp_path / "quiz.json").write_text(json.dumps(quiz_document(catalog="more.csv")), encoding="utf-8")
    main(["lint", str(tmp_path / "quiz.json")])
    out = capsys.readouterr().out
    assert f"{tmp_path / 'more.csv'}:3:1: warning: products[4]: product 'ghost' is not recommended" in out


def test_duplicate_id_between_quiz_and_catalog_points_at_the_catalog(tmp_path):
    (tmp_path / "more.csv").write_text("id,title,url\naqua,Aqua again,/aqua2\n", encoding="utf-8")
    (tmp_path / "quiz.json").write_text(json.dumps(quiz_document(catalog="more.csv")), encoding="utf-8")
    (problem,) = load_quiz(tmp_path / "quiz.json").problems
    assert (problem.file, problem.line, problem.message) == (
        str(tmp_path / "more.csv"),
        2,
        "duplicate product id 'aqua'",
    )
